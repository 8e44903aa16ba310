#!/usr/bin/env python3
"""Generate flowhound's sample Zeek conn logs (a small company network, one morning).

Writes, under OUT/zeek/:
  conn.2026-03-02-07.log.gz  the rotated, gzipped 07:00-08:00 UTC hour (quiet start of the day)
  conn.log                   the current log, 08:00-10:00 UTC (sensor stopped at 10:00, so it
                             carries a #close trailer like every log Zeek closes)

Background traffic is random but seeded; the planted suspicious flows have fixed times,
addresses and ports (only their source ports, uids and minor sizes vary with the seed), so the
table in SampleLogs/README.md holds for every seed.

As Zeek does, a record is written when its connection ends: lines are ordered by end time
(ts + duration), not by ts, and a connection that started before a rotation but ended after it
lands in the newer file with a ts earlier than that file's #open time.

python3 standard library only.  Usage:
  python3 SampleLogs/generate.py [--seed N] [--out DIR]
"""

import argparse
import datetime
import gzip
import ipaddress
import math
import os
import random

DEFAULT_SEED = 20260302
DAY = datetime.datetime(2026, 3, 2, tzinfo=datetime.timezone.utc)


def at(h, m=0, s=0.0):
    """Epoch seconds for 2026-03-02 h:m:s UTC."""
    return DAY.timestamp() + h * 3600 + m * 60 + s


ROT_START = at(7)        # rotated file opens
ROT_END = at(8)          # rotation: conn.log reopened
CUR_END = at(10)         # sensor stopped
GEN_START = at(6, 50)    # connections starting earlier than 07:00 may still end inside the window

# ---------------------------------------------------------------- network layout
WS_NET = "10.20.1.0/24"
WORKSTATIONS = ["10.20.1.%d" % i for i in range(11, 51)]   # 40 desktops/laptops
IT_ADMIN_WS = ["10.20.1.15", "10.20.1.16"]                   # use the jump host
DEVICE_A = "10.20.1.23"                                      # compromised workstation
JUMP = "10.20.5.5"
GATEWAY = "10.20.10.1"
DC = "10.20.10.10"          # dc01: Kerberos, LDAP, SMB (SYSVOL), RPC, NTP, DHCP
DNS = "10.20.10.11"         # internal resolver
FILESRV = "10.20.10.20"     # SMB shares
PRINTSRV = "10.20.10.25"    # print server
ORDERAPP = "10.20.10.40"    # order-information web application (Windows, IIS)
ORDERDB = "10.20.10.50"     # order-information database: PostgreSQL 5432, MSSQL 1433
BACKUP = "10.20.10.60"      # backup server
MONITOR = "10.20.10.70"     # monitoring (ICMP checks)
SERVERS = [DC, DNS, FILESRV, PRINTSRV, ORDERAPP, ORDERDB, BACKUP, MONITOR]
EXFIL_DST = "203.0.113.50"
UPSTREAM_DNS = ["1.1.1.1", "8.8.8.8", "9.9.9.9"]
NTP_POOL = ["162.159.200.1", "162.159.200.123"]

# public destinations by (first two octets, service mix): cloud/CDN/SaaS-like address blocks
PUBLIC_PREFIXES = [
    ("13.107", 6), ("20.190", 4), ("40.126", 3), ("52.97", 4), ("52.113", 2),
    ("142.250", 6), ("172.217", 3), ("104.16", 4), ("104.18", 3), ("151.101", 3),
    ("23.215", 2), ("185.199", 1), ("3.120", 2), ("54.230", 2), ("34.107", 2),
    ("18.165", 1), ("199.232", 1), ("31.13", 2), ("157.240", 2), ("17.253", 1),
]

LOCAL_NETS = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8",
    "fe80::/10", "fc00::/7", "::1/128")]

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

FIELDS = ("ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes "
          "resp_bytes conn_state local_orig local_resp missed_bytes history orig_pkts "
          "orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents").split()
TYPES = ("time string addr port addr port enum string interval count count string bool bool "
         "count string count count count count set[string]").split()


def is_local(addr):
    a = ipaddress.ip_address(addr)
    return any(a.version == n.version and a in n for n in LOCAL_NETS)


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.recs = []          # (end_time, seq, line)
        self.public_pool = self._public_pool()

    # ---------------------------------------------------------------- helpers
    def uid(self):
        return "C" + "".join(self.r.choice(B62) for _ in range(17))

    def eport(self, host):
        """Ephemeral source port: Windows range for Windows hosts, Linux range otherwise."""
        if host in (ORDERDB, BACKUP, MONITOR, DNS) or ":" in host:
            return self.r.randint(32768, 60999)
        return self.r.randint(49152, 65535)

    def _public_pool(self):
        pool = []
        for prefix, weight in PUBLIC_PREFIXES:
            for _ in range(weight * 3):
                pool.append("%s.%d.%d" % (prefix, self.r.randint(0, 255), self.r.randint(1, 254)))
        return pool

    def public(self):
        # heavy head: a few popular destinations get most connections
        i = int(math.exp(self.r.random() * math.log(len(self.public_pool)))) - 1
        return self.public_pool[min(i, len(self.public_pool) - 1)]

    def lognormf(self, median, sigma):
        return median * math.exp(self.r.gauss(0, sigma))

    def lognorm(self, median, sigma, lo=0, hi=None):
        v = int(median * math.exp(self.r.gauss(0, sigma)))
        v = max(lo, v)
        return min(v, hi) if hi is not None else v

    # ---------------------------------------------------------------- record writers
    def emit(self, ts, orig, oport, resp, rport, proto, service, duration, ob, rb, state,
             history, opkts, oipb, rpkts, ripb, missed=0):
        if duration is None:
            dur_s = ob_s = rb_s = "-"       # Zeek leaves these unset when duration is 0
            end = ts
        else:
            dur_s, ob_s, rb_s = "%.6f" % duration, str(ob), str(rb)
            end = ts + duration
        lo = "T" if is_local(orig) else "F"
        lr = "T" if is_local(resp) else "F"
        line = "\t".join([
            "%.6f" % ts, self.uid(), orig, str(oport), resp, str(rport), proto,
            service or "-", dur_s, ob_s, rb_s, state, lo, lr, str(missed), history,
            str(opkts), str(oipb), str(rpkts), str(ripb), "-"])
        # Zeek writes a record only after the connection is over (plus a short linger)
        self.recs.append((end + 0.5 + self.r.random(), len(self.recs), line))

    def tcp(self, ts, orig, resp, rport, state="SF", service=None, ob=0, rb=0, duration=None,
            oport=None, history=None):
        oport = oport or self.eport(orig)
        hdr = 52 if ":" not in orig else 72            # IP + TCP header with timestamps option
        if state == "SF":
            if duration is None:
                duration = self.r.uniform(0.02, 3.0)
            if ob and rb:
                history = history or self.r.choice(["ShADadFf", "ShADadfF", "ShADdaFf", "ShAdDaFf"])
            elif ob:
                history = history or "ShADaFf"
            else:
                history = history or "ShAFf"
            opkts = 3 + math.ceil(ob / 1448) + rb // 2896 + (1 if self.r.random() < 0.3 else 0)
            rpkts = 2 + math.ceil(rb / 1448) + ob // 2896
            self.emit(ts, orig, oport, resp, rport, "tcp", service, duration, ob, rb, "SF",
                      history, opkts, ob + opkts * hdr + 8, rpkts, rb + rpkts * hdr + 8)
        elif state == "S0":
            if self.r.random() < 0.5:
                self.emit(ts, orig, oport, resp, rport, "tcp", None, None, 0, 0, "S0", "S",
                          1, 60 if ":" not in orig else 80, 0, 0)
            else:                                       # SYN retransmitted once or twice
                n = self.r.choice([2, 3])
                dur = 1.0 + self.r.uniform(0, 0.02) if n == 2 else 3.0 + self.r.uniform(0, 0.03)
                self.emit(ts, orig, oport, resp, rport, "tcp", None, dur, 0, 0, "S0", "S",
                          n, n * (60 if ":" not in orig else 80), 0, 0)
        elif state == "REJ":
            dur = self.r.uniform(0.0002, 0.003)
            self.emit(ts, orig, oport, resp, rport, "tcp", None, dur, 0, 0, "REJ", "Sr",
                      1, 52 if orig != DEVICE_A else 44, 1, 40)
        elif state == "SCANOPEN":                       # SYN, SYN-ACK, RST from the scanner
            dur = self.r.uniform(0.0002, 0.002)
            self.emit(ts, orig, oport, resp, rport, "tcp", None, dur, 0, 0, "RSTO", "ShR",
                      2, 84, 1, 44)
        elif state in ("RSTO", "RSTR"):
            if duration is None:
                duration = self.r.uniform(0.05, 30.0)
            history = history or ("ShADadR" if state == "RSTO" else "ShADadr")
            opkts = 3 + math.ceil(ob / 1448)
            rpkts = 2 + math.ceil(rb / 1448)
            self.emit(ts, orig, oport, resp, rport, "tcp", service, duration, ob, rb, state,
                      history, opkts, ob + opkts * hdr, rpkts, rb + rpkts * hdr)
        else:
            raise ValueError(state)

    def udp(self, ts, orig, resp, rport, service=None, ob=0, rb=0, oport=None, reply=True,
            opkts=1, rpkts=1, duration=None):
        oport = oport or self.eport(orig)
        hdr = 28 if ":" not in orig else 48
        if reply:
            duration = duration if duration is not None else self.r.uniform(0.0004, 0.08)
            self.emit(ts, orig, oport, resp, rport, "udp", service, duration, ob, rb, "SF", "Dd",
                      opkts, ob + opkts * hdr, rpkts, rb + rpkts * hdr)
        elif opkts == 1:
            self.emit(ts, orig, oport, resp, rport, "udp", service, None, ob, 0, "S0", "D",
                      1, ob + hdr, 0, 0)
        else:
            duration = duration if duration is not None else self.r.uniform(0.5, 3.0)
            self.emit(ts, orig, oport, resp, rport, "udp", service, duration, ob * opkts, 0, "S0",
                      "D", opkts, (ob + hdr) * opkts, 0, 0)

    def icmp(self, ts, orig, resp, itype, icode, size=56, reply=True, count=1):
        hdr = 28 if ":" not in orig else 48
        if reply:
            dur = self.r.uniform(0.0002, 0.002) + (count - 1) * 1.0
            self.emit(ts, orig, itype, resp, icode, "icmp", None, dur, size * count, size * count,
                      "OTH", "-", count, (size + hdr) * count, count, (size + hdr) * count)
        else:
            self.emit(ts, orig, itype, resp, icode, "icmp", None, None, size, 0, "OTH", "-",
                      1, size + hdr, 0, 0)

    # ---------------------------------------------------------------- background
    def activity(self, t):
        """Share of staff at work: people arrive between 07:00 and 08:30."""
        if t < at(7):
            return 0.15
        if t < at(8, 30):
            return 0.15 + 0.85 * (t - at(7)) / 5400.0
        return 1.0

    def times(self, per_hour, start=GEN_START, end=CUR_END, scaled=True):
        """Poisson arrivals at per_hour, thinned by the office activity curve."""
        t = start
        out = []
        while True:
            t += self.r.expovariate(per_hour / 3600.0)
            if t >= end:
                return out
            if not scaled or self.r.random() < self.activity(t):
                out.append(t)

    def background(self):
        r = self.r
        for ws in WORKSTATIONS:
            # DNS lookups to the internal resolver
            for t in self.times(7):
                ok = r.random() > 0.03
                self.udp(t, ws, DNS, 53, "dns", ob=r.randint(28, 60),
                         rb=r.randint(60, 320) if ok else 0, reply=ok)
            # HTTPS / QUIC / HTTP to the Internet
            for t in self.times(7):
                dst = self.public()
                x = r.random()
                if x < 0.02:
                    self.tcp(t, ws, dst, 443, "S0")
                elif x < 0.04:
                    self.tcp(t, ws, dst, 443, "RSTR", "ssl", ob=r.randint(500, 2500),
                             rb=r.randint(200, 6000))
                elif x < 0.05:     # cloud sync upload, well under the exfil threshold
                    self.tcp(t, ws, dst, 443, "SF", "ssl", ob=self.lognorm(4_000_000, 1.0, hi=60_000_000),
                             rb=r.randint(8000, 60000), duration=r.uniform(5, 240))
                else:
                    self.tcp(t, ws, dst, 443, "SF", "ssl", ob=self.lognorm(1800, 0.8, lo=300),
                             rb=self.lognorm(24000, 1.6, lo=1000, hi=80_000_000),
                             duration=self.lognormf(2, 1.5) + r.random())
            for t in self.times(1.2):
                self.udp(t, ws, self.public(), 443, "quic", ob=self.lognorm(9000, 1.0, lo=1300),
                         rb=self.lognorm(60000, 1.5, lo=1300), opkts=r.randint(8, 40),
                         rpkts=r.randint(10, 80), duration=r.uniform(0.3, 40))
            for t in self.times(0.8):
                self.tcp(t, ws, self.public(), 80, "SF", "http", ob=r.randint(300, 700),
                         rb=r.randint(500, 4000))
            # Active Directory
            for t in self.times(1.0):
                if r.random() < 0.5:
                    self.udp(t, ws, DC, 88, "krb", ob=r.randint(1400, 1700), rb=r.randint(1500, 1900))
                else:
                    self.tcp(t, ws, DC, 88, "SF", "krb_tcp", ob=r.randint(1400, 2200),
                             rb=r.randint(1500, 2600))
            for t in self.times(1.4):
                self.tcp(t, ws, DC, 389, "SF", "ldap_tcp", ob=r.randint(800, 5000),
                         rb=r.randint(1500, 20000))
            for t in self.times(0.5):
                self.tcp(t, ws, DC, 445, "SF", "gssapi,smb,krb", ob=r.randint(3000, 30000),
                         rb=r.randint(4000, 90000), duration=r.uniform(0.1, 20))
            for t in self.times(0.4):
                self.tcp(t, ws, DC, 135, "SF", "dce_rpc", ob=r.randint(150, 250), rb=r.randint(130, 220))
                self.tcp(t + r.uniform(0.002, 0.02), ws, DC, r.choice([49667, 49668]), "SF",
                         "dce_rpc", ob=r.randint(1200, 8000), rb=r.randint(900, 12000))
            for t in self.times(0.15):
                self.udp(t, ws, DC, 123, "ntp", ob=48, rb=48, oport=123)
            for t in self.times(0.12):
                self.udp(t, ws, DC, 67, "dhcp", ob=300, rb=300, oport=68)
            # file shares, order application, printing
            for t in self.times(1.5):
                self.tcp(t, ws, FILESRV, 445, "SF", "gssapi,smb,krb",
                         ob=self.lognorm(6000, 1.2, lo=900, hi=40_000_000),
                         rb=self.lognorm(40000, 1.8, lo=900, hi=200_000_000),
                         duration=self.lognormf(8, 1.5))
            for t in self.times(1.6):
                self.tcp(t, ws, ORDERAPP, 443, "SF", "ssl", ob=self.lognorm(2500, 0.7, lo=500),
                         rb=self.lognorm(30000, 1.0, lo=2000), duration=self.lognormf(3, 1.2))
            for t in self.times(0.1):
                if r.random() < 0.2:      # printer spooler restarting: non-admin port, rejected
                    self.tcp(t, ws, PRINTSRV, 9100, "REJ")
                else:
                    self.tcp(t, ws, PRINTSRV, 9100, "SF", None, ob=self.lognorm(300000, 1.0),
                             rb=0, duration=r.uniform(1, 15))
            # LAN chatter: NetBIOS/LLMNR/mDNS/SSDP broadcasts and multicast
            for t in self.times(1.0):
                kind = r.random()
                if kind < 0.35:
                    self.udp(t, ws, "10.20.1.255", 137, None, ob=50, reply=False, oport=137)
                elif kind < 0.6:
                    self.udp(t, ws, "224.0.0.252", 5355, None, ob=r.randint(30, 60), reply=False)
                elif kind < 0.85:
                    self.udp(t, ws, "224.0.0.251", 5353, "dns", ob=r.randint(40, 200), reply=False,
                             oport=5353)
                else:
                    self.udp(t, ws, "239.255.255.250", 1900, None, ob=r.randint(120, 180),
                             reply=False, opkts=r.randint(2, 4))

        # IT admins reach servers only through the jump host
        for adm in IT_ADMIN_WS:
            for t in self.times(1.0):
                self.tcp(t, adm, JUMP, 3389, "SF", "rdp", ob=self.lognorm(900000, 1.0),
                         rb=self.lognorm(12_000_000, 1.0), duration=r.uniform(300, 2400))
            for t in self.times(0.3):
                self.tcp(t, adm, JUMP, 22, "SF", "ssh", ob=r.randint(3000, 40000),
                         rb=r.randint(4000, 90000), duration=r.uniform(20, 900))
        for t in self.times(3.0):
            dst = r.choice([DC, FILESRV, ORDERAPP, PRINTSRV])
            self.tcp(t, JUMP, dst, 3389, "SF", "rdp", ob=self.lognorm(600000, 1.0),
                     rb=self.lognorm(9_000_000, 1.0), duration=r.uniform(120, 1800))
        for t in self.times(2.0):
            dst = r.choice([ORDERDB, BACKUP, MONITOR, DNS])
            self.tcp(t, JUMP, dst, 22, "SF", "ssh", ob=r.randint(3000, 60000),
                     rb=r.randint(4000, 300000), duration=r.uniform(10, 1200))
        for t in self.times(0.8):
            self.tcp(t, JUMP, DC, 5985, "SF", "http", ob=r.randint(4000, 30000),
                     rb=r.randint(6000, 80000), duration=r.uniform(1, 60))

        # servers
        for t in self.times(160, scaled=False):
            self.udp(t, DNS, r.choice(UPSTREAM_DNS), 53, "dns", ob=r.randint(30, 70),
                     rb=r.randint(60, 500))
        for t in self.times(12, scaled=False):
            self.udp(t, DC, DNS, 53, "dns", ob=r.randint(30, 70), rb=r.randint(60, 300))
        for t in self.times(24, scaled=False):
            self.tcp(t, ORDERAPP, ORDERDB, 5432, "SF", "postgresql",
                     ob=self.lognorm(20000, 1.0, lo=400), rb=self.lognorm(250000, 1.3, lo=500),
                     duration=self.lognormf(40, 1.0))
        for t in self.times(2, scaled=False):
            self.tcp(t, ORDERAPP, ORDERDB, 1433, "SF", None, ob=r.randint(3000, 20000),
                     rb=self.lognorm(800000, 1.0), duration=r.uniform(1, 30))
        for srv in SERVERS:
            for t in self.times(2.5, scaled=False):
                self.tcp(t, srv, DC, 88, "SF", "krb_tcp", ob=r.randint(1400, 2200), rb=r.randint(1500, 2600))
            for t in self.times(1.0, scaled=False):
                self.tcp(t, srv, self.public(), 443, "SF", "ssl", ob=r.randint(1000, 9000),
                         rb=self.lognorm(200000, 1.5), duration=r.uniform(0.2, 20))
        for t in self.times(4, scaled=False):
            self.udp(t, DC, r.choice(NTP_POOL), 123, "ntp", ob=48, rb=48, oport=123)
        for t in self.times(6, scaled=False):           # monitoring ping rounds
            for dst in [GATEWAY, DC, DNS, FILESRV, ORDERAPP, ORDERDB, JUMP]:
                self.icmp(t + r.uniform(0, 0.5), MONITOR, dst, 8, 0, count=r.choice([1, 3]))
        # IPv6 neighbour discovery and router solicitations on the workstation LAN
        for t in self.times(10, scaled=False):
            host = "fe80::%x:%x:%x:%x" % tuple(r.randint(0, 0xffff) for _ in range(4))
            if r.random() < 0.8:
                self.icmp(t, host, "ff02::1:ff%02x:%04x" % (r.randint(0, 255), r.randint(0, 0xffff)),
                          135, 0, size=32, reply=False)
            else:
                self.icmp(t, host, "ff02::2", 133, 0, size=16, reply=False)

        # negative controls for the planted-flow rules
        # nightly backup finishing: gigabytes between two internal servers (not exfiltration)
        self.tcp(at(6, 58, 3.117245), FILESRV, BACKUP, 9102, "SF", None, ob=2_148_331_904,
                 rb=1_204_220, duration=1494.81)
        # big download of updates by the file server (resp_bytes large, orig small)
        self.tcp(at(8, 41, 17.5502), FILESRV, "13.107.4.50", 443, "SF", "ssl", ob=3_284_113,
                 rb=352_671_018, duration=212.4)

    # ---------------------------------------------------------------- planted flows
    def planted(self):
        r = self.r
        # (e) device A talks straight to the order database, before the working day
        self.tcp(at(7, 41, 12.384019), DEVICE_A, ORDERDB, 5432, "SF", "postgresql",
                 ob=1240, rb=2310, duration=4.8125)
        # (b) sweep of the server subnet from device A
        targets = [GATEWAY, DC, DNS, "10.20.10.12", FILESRV, PRINTSRV, "10.20.10.30",
                   ORDERAPP, ORDERDB, BACKUP, MONITOR, "10.20.10.80"]
        ports = [21, 22, 23, 25, 53, 80, 135, 139, 443, 445, 1433, 3306, 3389, 5432, 5900,
                 5985, 8080, 8443]
        open_ports = {
            DC: {53, 135, 139, 445, 3389, 5985}, DNS: {22, 53}, FILESRV: {135, 139, 445, 3389, 5985},
            PRINTSRV: {135, 139, 445, 3389}, ORDERAPP: {80, 135, 443, 445, 3389, 5985},
            ORDERDB: {22, 1433, 5432}, BACKUP: {22, 8443}, MONITOR: {22, 80, 443},
        }
        dead = {"10.20.10.12", "10.20.10.30", "10.20.10.80"}
        t = at(8, 47, 5.201377)
        for dst in targets:
            for p in r.sample(ports, len(ports)):
                t += r.uniform(0.05, 0.45)
                if dst in dead or dst == GATEWAY:
                    self.tcp(t, DEVICE_A, dst, p, "S0")
                elif p in open_ports.get(dst, ()):
                    self.tcp(t, DEVICE_A, dst, p, "SCANOPEN")
                else:
                    self.tcp(t, DEVICE_A, dst, p, "REJ")
        # (a) lateral movement to other workstations over SMB/RPC (PsExec-style)
        self.tcp(at(9, 2, 30.550231), DEVICE_A, "10.20.1.37", 445, "REJ")
        self.tcp(at(9, 2, 41.018870), DEVICE_A, "10.20.1.41", 445, "SF", "gssapi,ntlm,smb",
                 ob=418_822, rb=21_406, duration=6.238811)
        self.tcp(at(9, 2, 43.109442), DEVICE_A, "10.20.1.41", 135, "SF", "dce_rpc",
                 ob=216, rb=172, duration=0.004312)
        self.tcp(at(9, 2, 43.120806), DEVICE_A, "10.20.1.41", 49669, "SF", "dce_rpc",
                 ob=2_904, rb=1_318, duration=0.351877)
        # (c) RDP pivot from device A to the order application server ("device B")
        self.tcp(at(9, 10, 5.774120), DEVICE_A, ORDERAPP, 3389, "SF", "rdp",
                 ob=2_917_455, rb=48_220_913, duration=1420.335127)
        # context: B pulls a large result set from the order database (normal client pair)
        self.tcp(at(9, 15, 20.060515), ORDERAPP, ORDERDB, 5432, "SF", "postgresql",
                 ob=48_112, rb=1_803_557_910, duration=241.771203)
        # (d) B uploads hundreds of MB to an Internet address
        self.tcp(at(9, 24, 10.412998), ORDERAPP, EXFIL_DST, 443, "SF", "ssl",
                 ob=612_408_119, rb=1_922_070, duration=690.204551)

    # ---------------------------------------------------------------- output
    def lines_between(self, start, end):
        return [line for (e, _, line) in sorted(self.recs) if start <= e < end]


def zeek_time(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")


def render(lines, opened, closed):
    head = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tconn",
        "#open\t" + zeek_time(opened),
        "#fields\t" + "\t".join(FIELDS),
        "#types\t" + "\t".join(TYPES),
    ]
    return "\n".join(head + lines + ["#close\t" + zeek_time(closed)]) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED,
                    help="RNG seed for the background traffic (default %(default)s)")
    ap.add_argument("--out", default=here,
                    help="output directory; files go to OUT/zeek/ (default: this script's folder)")
    args = ap.parse_args()

    g = Gen(args.seed)
    g.background()
    g.planted()

    outdir = os.path.join(args.out, "zeek")
    os.makedirs(outdir, exist_ok=True)
    rotated = render(g.lines_between(ROT_START, ROT_END), ROT_START, ROT_END)
    current = render(g.lines_between(ROT_END, CUR_END), ROT_END, CUR_END)

    gz_name = "conn.2026-03-02-07.log"
    gz_path = os.path.join(outdir, gz_name + ".gz")
    with open(gz_path, "wb") as raw:   # fixed name and mtime in the header: reproducible bytes
        with gzip.GzipFile(filename=gz_name, mode="wb", fileobj=raw, compresslevel=6,
                           mtime=int(ROT_END)) as z:
            z.write(rotated.encode())
    with open(os.path.join(outdir, "conn.log"), "w", newline="\n") as f:
        f.write(current)
    for name, text in ((gz_name + ".gz", rotated), ("conn.log", current)):
        n = text.count("\n") - 9
        print("%s: %d records" % (os.path.join(outdir, name), n))


if __name__ == "__main__":
    main()
