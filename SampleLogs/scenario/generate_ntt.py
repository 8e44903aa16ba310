#!/usr/bin/env python3
"""Write flowhound's multi-day "NTT-like" integration scenario (synthetic logs plus their truth).

Output, under --out DIR:
  zeek/YYYY-MM-DD/conn.HH:00:00-HH:00:00.log.gz   hourly Zeek conn logs, zeekctl archive names
  zeek/YYYY-MM-DD/dns.HH:00:00-HH:00:00.log.gz    hourly Zeek dns logs (hours without DNS: no file)
  syslog/srv-db/auth.log, auth.log.1, auth.log.N.gz  sshd/cron/sudo log of the order DB server,
                                                  rotated weekly the Debian way (delaycompress)
  expected.json                                    machine-readable truth: stages and confounders

The network is the one of SampleLogs/generate.py (workstations 10.20.1.0/24, device A 10.20.1.23,
jump host 10.20.5.5, servers 10.20.10.0/24, order application "device B" 10.20.10.40, order DB
10.20.10.50), extended by a vulnerability scanner 10.20.5.9 and a second file server 10.20.10.21
that goes into service during the scenario.

Reproducibility: --seed drives only the background. Everything planted (attack stages and the
named confounders) comes from a generator with a fixed seed and fixed times relative to --start,
so the stage table in README.md holds for every seed. Output bytes are identical for identical
arguments (gzip headers carry fixed names and mtimes; no dict/set order depends on hashing).

python3 standard library only.  See SampleLogs/scenario/README.md.
"""

import argparse
import datetime as dt
import gzip
import ipaddress
import json
import math
import os
import random
import shutil

DEFAULT_SEED = 20260301
PLANT_SEED = 0x4E54541  # fixed: planted activity is the same for every --seed

# ------------------------------------------------------------------ addresses
WORKSTATIONS = ["10.20.1.%d" % i for i in range(11, 51)]
IT_ADMINS = ["10.20.1.15", "10.20.1.16"]
SALES = ["10.20.1.%d" % i for i in range(11, 35)]          # use the order application
ALWAYS_ON = ["10.20.1.15", "10.20.1.23", "10.20.1.31", "10.20.1.44"]  # never switched off
DEVICE_A = "10.20.1.23"
JUMP = "10.20.5.5"
SCANNER = "10.20.5.9"
GATEWAY = "10.20.10.1"
DC = "10.20.10.10"
DNS = "10.20.10.11"
FS1 = "10.20.10.20"
FS2 = "10.20.10.21"          # new file server (in service from day FS2_DAY)
PRINT = "10.20.10.25"
APP = "10.20.10.40"          # order application = device B
DB = "10.20.10.50"           # order-information DB = srv-db (sshd log)
BACKUP = "10.20.10.60"
MONITOR = "10.20.10.70"
C2 = "198.51.100.145"
EXFIL = "203.0.113.50"
CLOUD_BACKUP = ["52.219.140.10", "52.219.140.11", "52.219.140.12", "52.219.140.13"]
UPDATE_CDN = ["104.18.22.71", "104.18.23.71", "104.18.24.71"]
UPDATE_FQDN = "agent-updates.vendorcdn.example"
NTP_EXT = ["162.159.200.1", "162.159.200.123"]
UPSTREAM = ["1.1.1.1", "8.8.8.8", "9.9.9.9"]
DEBIAN_MIRROR = "151.101.134.132"
TUNNEL_DOMAIN = "t.cloudsync-metrics.example"

WINDOWS_SERVERS = [DC, FS1, FS2, PRINT, APP]
LINUX_SERVERS = [DNS, DB, BACKUP, MONITOR]
LIVE_SERVERS = [DC, DNS, FS1, FS2, PRINT, APP, DB, BACKUP, MONITOR]   # FS2 only once in service
OPEN_PORTS = {
    DC: [53, 88, 135, 139, 389, 445, 464, 636, 3268, 3389, 5985],
    DNS: [22, 53],
    FS1: [135, 139, 445, 3389, 5985],
    FS2: [135, 139, 445, 3389, 5985],
    PRINT: [135, 139, 445, 515, 631, 3389, 9100],
    APP: [80, 135, 443, 445, 3389, 5985],
    DB: [22, 1433, 5432],
    BACKUP: [22, 9101, 9102, 9103],
    MONITOR: [22, 80, 443, 5666],
    JUMP: [22, 3389, 5985],
}
FS2_DAY = 11                                   # day index (1 = --start) fs02 goes live
FS2_ROLLOUT = [(11, range(11, 21)), (12, range(21, 31)), (16, range(31, 41)), (17, range(41, 51))]

LOCAL_NETS = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "224.0.0.0/4",
    "fe80::/10", "fc00::/7", "::1/128")]

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
B32 = "abcdefghijklmnopqrstuvwxyz234567"

CONN_FIELDS = ("ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes "
               "resp_bytes conn_state local_orig local_resp missed_bytes history orig_pkts "
               "orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents").split()
CONN_TYPES = ("time string addr port addr port enum string interval count count string bool bool "
              "count string count count count count set[string]").split()
DNS_FIELDS = ("ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id rtt query qclass "
              "qclass_name qtype qtype_name rcode rcode_name AA TC RD RA Z answers TTLs "
              "rejected").split()
DNS_TYPES = ("time string addr port addr port enum count interval string count string count "
             "string count string bool bool bool bool count vector[string] vector[interval] "
             "bool").split()
QTYPES = {"A": 1, "AAAA": 28, "TXT": 16, "HTTPS": 65, "PTR": 12, "SRV": 33}

# names workstations look up (weight, name); answers drawn from the public pool
BROWSE_NAMES = [
    (9, "outlook.office365.com"), (7, "login.microsoftonline.com"), (6, "teams.microsoft.com"),
    (5, "www.google.com"), (4, "fonts.gstatic.com"), (4, "graph.microsoft.com"),
    (3, "www.bing.com"), (3, "github.com"), (3, "slack.com"), (2, "zoom.us"),
    (2, "www.youtube.com"), (2, "cdn.jsdelivr.net"), (2, "docs.google.com"),
    (2, "update.googleapis.com"), (2, "ctldl.windowsupdate.com"), (1, "www.nikkei.com"),
    (1, "www.yahoo.co.jp"), (1, "news.yahoo.co.jp"), (1, "www.wikipedia.org"),
    (1, "s3.ap-northeast-1.amazonaws.com"), (1, "api.box.com"), (1, "www.linkedin.com"),
]
INTERNAL_NAMES = ["dc01.corp.example", "fs01.corp.example", "orders.corp.example",
                  "print01.corp.example", "_ldap._tcp.dc._msdcs.corp.example", "wpad.corp.example"]

DETECTORS = ["net.internal_scan", "net.new_internal_edge", "net.admin_protocol_anomaly",
             "auth.fanout", "net.lateral_chain", "net.sensitive_asset_access",
             "auth.bruteforce_success", "net.beaconing", "net.long_connection", "dns.tunnel",
             "net.exfil_volume", "net.flood"]
RULE_LARGE_UPLOAD = "2e171588-cbd2-4940-a8bc-e1faf37bc2fa"
RULE_WS_RDP = "69595a53-1a53-43cd-8417-4833503df242"
RULE_WS_REJ = "40c43109-6b72-4770-9ec3-1e8c9797c400"
RULE_WS_DB = "2048a8a1-253e-4d5d-846a-62f6f99f48cd"
RULE_WS_WS = "577768ce-f535-436c-b0b7-fe6548d41fd5"


def is_local(addr):
    a = ipaddress.ip_address(addr)
    return any(a.version == n.version and a in n for n in LOCAL_NETS)


def iso(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def zeek_stamp(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d-%H-%M-%S")


def windows_host(h):
    return h.startswith("10.20.1.") or h in WINDOWS_SERVERS or h == JUMP


class Ports:
    """Ephemeral source ports: Windows hands them out sequentially, Linux pseudo-randomly."""

    def __init__(self, rng):
        self.rng = rng
        self.next = {}

    def get(self, host):
        if not windows_host(host):
            return self.rng.randint(32768, 60999)
        p = self.next.get(host)
        if p is None:
            p = self.rng.randint(49152, 64000)
        p += self.rng.randint(1, 3)
        if p > 65535:
            p = 49152 + (p - 65536)
        self.next[host] = p
        return p


class Scenario:
    def __init__(self, seed, start, days):
        self.seed = seed
        self.days = days
        self.t0 = dt.datetime(start.year, start.month, start.day, tzinfo=dt.timezone.utc).timestamp()
        self.t_end = self.t0 + days * 86400
        self.bg = random.Random(seed)
        self.pl = random.Random(PLANT_SEED)
        self.bg_ports = Ports(self.bg)
        self.pl_ports = Ports(self.pl)
        self.conn = []    # (write_time, seq, line)
        self.dns = []
        self.auth = []    # (time, seq, text-without-timestamp)
        self.seq = 0
        self.sshd_pid = 1480
        self.truth_flows = {}   # tag -> list of dicts (what the generator planted)
        self.public_pool = self._public_pool()

    # -------------------------------------------------------------- time helpers
    def day_start(self, d):
        """Epoch of 00:00 UTC on day d (1-based)."""
        return self.t0 + (d - 1) * 86400

    def at(self, d, h, m=0, s=0.0):
        return self.day_start(d) + h * 3600 + m * 60 + s

    def weekday(self, d):
        return dt.datetime.fromtimestamp(self.day_start(d), dt.timezone.utc).weekday()  # Mon=0

    def in_range(self, t):
        return self.t0 <= t < self.t_end

    # -------------------------------------------------------------- random helpers
    def _public_pool(self):
        r = random.Random(PLANT_SEED + 7)      # same pool for every seed
        blocks = [("13.107", 6), ("20.190", 4), ("40.126", 3), ("52.97", 4), ("52.113", 2),
                  ("142.250", 6), ("172.217", 3), ("104.16", 4), ("151.101", 3), ("23.215", 2),
                  ("185.199", 1), ("3.120", 2), ("54.230", 2), ("34.107", 2), ("31.13", 1),
                  ("157.240", 1), ("17.253", 1)]
        out = []
        for prefix, w in blocks:
            for _ in range(w * 2):
                out.append("%s.%d.%d" % (prefix, r.randint(0, 255), r.randint(1, 254)))
        return out

    def public(self, r):
        i = int(math.exp(r.random() * math.log(len(self.public_pool)))) - 1
        return self.public_pool[min(max(i, 0), len(self.public_pool) - 1)]

    @staticmethod
    def lognorm(r, median, sigma, lo=0, hi=None):
        v = max(lo, int(median * math.exp(r.gauss(0, sigma))))
        return min(v, hi) if hi is not None else v

    @staticmethod
    def uid(r, prefix="C"):
        return prefix + "".join(r.choice(B62) for _ in range(17))

    @staticmethod
    def poisson_times(r, per_hour, start, end):
        out = []
        if per_hour <= 0 or end <= start:
            return out
        t = start
        while True:
            t += r.expovariate(per_hour / 3600.0)
            if t >= end:
                return out
            out.append(t)

    # -------------------------------------------------------------- record writers
    def _push(self, store, write_time, line):
        self.seq += 1
        store.append((write_time, self.seq, line))

    def emit(self, r, ts, orig, oport, resp, rport, proto, service, duration, ob, rb, state,
             history, opkts, oipb, rpkts, ripb, uid=None):
        if duration is None:
            dur_s = ob_s = rb_s = "-"
            end = ts
        else:
            dur_s, ob_s, rb_s = "%.6f" % duration, str(ob), str(rb)
            end = ts + duration
        uid = uid or self.uid(r)
        line = "\t".join([
            "%.6f" % ts, uid, orig, str(oport), resp, str(rport), proto, service or "-",
            dur_s, ob_s, rb_s, state, "T" if is_local(orig) else "F",
            "T" if is_local(resp) else "F", "0", history, str(opkts), str(oipb), str(rpkts),
            str(ripb), "-"])
        w = end + 0.3 + r.random() * 0.9
        self._push(self.conn, w, line)
        return {"written": self.t0 <= w < self.t_end, "ts": round(ts, 6), "uid": uid, "src": orig, "sport": oport, "dst": resp,
                "dport": rport, "proto": proto, "state": state, "duration": duration,
                "orig_bytes": ob if duration is not None else 0,
                "resp_bytes": rb if duration is not None else 0}

    def tcp(self, r, ports, ts, orig, resp, rport, state="SF", service=None, ob=0, rb=0,
            duration=None, oport=None, uid=None):
        oport = oport or ports.get(orig)
        if state == "SF":
            if duration is None:
                duration = r.uniform(0.02, 2.5)
            if ob and rb:
                hist = r.choice(["ShADadFf", "ShADadfF", "ShADdaFf", "ShAdDaFf"])
            elif ob:
                hist = "ShADaFf"
            else:
                hist = "ShAFf"
            op = 3 + math.ceil(ob / 1448) + rb // 2896 + (1 if r.random() < 0.3 else 0)
            rp = 2 + math.ceil(rb / 1448) + ob // 2896
            return self.emit(r, ts, orig, oport, resp, rport, "tcp", service, duration, ob, rb,
                             "SF", hist, op, ob + op * 52, rp, rb + rp * 52, uid)
        if state == "S0":
            n = r.choice([1, 1, 2])
            if n == 1:
                return self.emit(r, ts, orig, oport, resp, rport, "tcp", None, None, 0, 0, "S0",
                                 "S", 1, 60, 0, 0, uid)
            return self.emit(r, ts, orig, oport, resp, rport, "tcp", None,
                             1.0 + r.uniform(0, 0.02), 0, 0, "S0", "S", 2, 120, 0, 0, uid)
        if state == "S0fast":     # scanner SYN, never retransmitted
            return self.emit(r, ts, orig, oport, resp, rport, "tcp", None, None, 0, 0, "S0",
                             "S", 1, 44, 0, 0, uid)
        if state == "REJ":
            return self.emit(r, ts, orig, oport, resp, rport, "tcp", None,
                             r.uniform(0.0002, 0.002), 0, 0, "REJ", "Sr", 1, 44, 1, 40, uid)
        if state == "SYNOPEN":    # half-open probe: SYN, SYN-ACK, RST from the prober
            return self.emit(r, ts, orig, oport, resp, rport, "tcp", None,
                             r.uniform(0.0002, 0.002), 0, 0, "RSTO", "ShR", 2, 84, 1, 44, uid)
        if state == "RSTR":
            duration = duration if duration is not None else r.uniform(0.05, 20.0)
            op, rp = 3 + math.ceil(ob / 1448), 2 + math.ceil(rb / 1448)
            return self.emit(r, ts, orig, oport, resp, rport, "tcp", service, duration, ob, rb,
                             "RSTR", "ShADadr", op, ob + op * 52, rp, rb + rp * 52, uid)
        raise ValueError(state)

    def udp(self, r, ports, ts, orig, resp, rport, service=None, ob=0, rb=0, oport=None,
            reply=True, opkts=1, rpkts=1, duration=None, uid=None):
        oport = oport or ports.get(orig)
        if reply:
            duration = duration if duration is not None else r.uniform(0.0005, 0.04)
            return self.emit(r, ts, orig, oport, resp, rport, "udp", service, duration, ob, rb,
                             "SF", "Dd", opkts, ob + opkts * 28, rpkts, rb + rpkts * 28, uid)
        if opkts == 1:
            return self.emit(r, ts, orig, oport, resp, rport, "udp", service, None, ob, 0, "S0",
                             "D", 1, ob + 28, 0, 0, uid)
        duration = duration if duration is not None else r.uniform(0.5, 3.0)
        return self.emit(r, ts, orig, oport, resp, rport, "udp", service, duration, ob * opkts,
                         0, "S0", "D", opkts, (ob + 28) * opkts, 0, 0, uid)

    def icmp(self, r, ts, orig, resp, reply=True, count=1, size=56):
        if reply:
            dur = r.uniform(0.0002, 0.002) + (count - 1) * 1.0
            return self.emit(r, ts, orig, 8, resp, 0, "icmp", None, dur, size * count,
                             size * count, "OTH", "-", count, (size + 28) * count, count,
                             (size + 28) * count)
        return self.emit(r, ts, orig, 8, resp, 0, "icmp", None, None, size, 0, "OTH", "-", 1,
                         size + 28, 0, 0)

    def dns_query(self, r, ports, ts, client, server, name, qtype="A", answers=None, ttl=300,
                  rcode="NOERROR", txt=None):
        """One DNS exchange: a conn record and a dns.log record with the same uid."""
        uid = self.uid(r)
        oport = ports.get(client)
        rtt = r.uniform(0.0004, 0.006) if server == DNS else r.uniform(0.006, 0.04)
        qlen = 17 + len(name) + (11 if qtype != "A" else 0)
        if txt is not None:
            ans = ["TXT %d %s" % (len(txt), txt)]
        elif rcode != "NOERROR":
            ans = []
        elif answers is None:
            n = 1 if qtype != "A" else r.choice([1, 1, 2])
            if qtype == "AAAA":
                ans = ["2606:4700:%x::%x" % (r.randint(1, 0xfff), r.randint(1, 0xffff))
                       for _ in range(n)]
            else:
                ans = [self.public(r) for _ in range(n)]
        else:
            ans = list(answers)
        rlen = qlen + sum(16 + (len(a) if a.startswith("TXT") else 4) for a in ans)
        self.udp(r, ports, ts, client, server, 53, "dns", ob=qlen, rb=rlen, oport=oport,
                 duration=rtt, uid=uid)
        line = "\t".join([
            "%.6f" % ts, uid, client, str(oport), server, "53", "udp", str(r.randint(1, 65535)),
            "%.6f" % rtt, name, "1", "C_INTERNET", str(QTYPES[qtype]), qtype,
            "0" if rcode == "NOERROR" else "3", rcode, "F" if server == DNS else "T", "F", "T",
            "T", "0", ",".join(ans) if ans else "-",
            ",".join("%.6f" % float(ttl) for _ in ans) if ans else "-", "F"])
        self._push(self.dns, ts + rtt + 0.2 + r.random() * 0.5, line)
        return uid

    def lookup(self, r, ports, ts, client, name, qtype="A", answers=None, miss=0.3, **kw):
        """Client asks the internal resolver; on a cache miss the resolver asks upstream first."""
        if r.random() < miss:
            self.dns_query(r, ports, ts + 0.0001, DNS, r.choice(UPSTREAM), name, qtype, answers,
                           **kw)
            ts += 0.01
        return self.dns_query(r, ports, ts, client, DNS, name, qtype, answers, **kw)

    def syslog(self, t, text):
        if self.in_range(t):
            self.seq += 1
            self.auth.append((t, self.seq, text))

    def pid(self, r):
        self.sshd_pid += r.randint(3, 40)
        return self.sshd_pid

    # -------------------------------------------------------------- sshd on srv-db
    def ssh_session(self, r, ports, ts, src, user, method, duration, uid_num, typos=0,
                    fp="SHA256:q0Vb8lVvA7x0mC5m9kq4v8oTqkq6gq7m7u1WgJmZk2E"):
        """A successful SSH logon to srv-db: conn record plus the sshd/pam/logind lines."""
        pid = self.pid(r)
        sport = ports.get(src)
        t = ts + r.uniform(0.05, 0.3)
        for _ in range(typos):
            t += r.uniform(2.5, 7.0)
            self.syslog(t, "sshd[%d]: Failed password for %s from %s port %d ssh2"
                        % (pid, user, src, sport))
        t += r.uniform(0.5, 3.0) if typos else 0.0
        if method == "publickey":
            self.syslog(t, "sshd[%d]: Accepted publickey for %s from %s port %d ssh2: ED25519 %s"
                        % (pid, user, src, sport, fp))
        else:
            self.syslog(t, "sshd[%d]: Accepted password for %s from %s port %d ssh2"
                        % (pid, user, src, sport))
        self.syslog(t + 0.01, "sshd[%d]: pam_unix(sshd:session): session opened for user "
                              "%s(uid=%d) by (uid=0)" % (pid, user, uid_num))
        sess = 100 + int((t - self.t0) // 600)
        self.syslog(t + 0.02, "systemd-logind[611]: New session %d of user %s." % (sess, user))
        end = ts + duration
        self.syslog(end - 0.02, "sshd[%d]: Received disconnect from %s port %d:11: "
                                "disconnected by user" % (pid, src, sport))
        self.syslog(end - 0.01, "sshd[%d]: Disconnected from user %s %s port %d"
                                % (pid, user, src, sport))
        self.syslog(end, "sshd[%d]: pam_unix(sshd:session): session closed for user %s"
                         % (pid, user))
        self.syslog(end + 0.01, "systemd-logind[611]: Session %d logged out. Waiting for "
                                "processes to exit." % sess)
        ob = self.lognorm(r, 9000, 0.8, lo=3000)
        rb = self.lognorm(r, 40000, 1.0, lo=4000)
        return self.tcp(r, ports, ts, src, DB, 22, "SF", "ssh", ob=ob, rb=rb, duration=duration,
                        oport=sport)

    def cron(self):
        """Hourly and daily cron sessions on srv-db (same for every seed)."""
        r = random.Random(PLANT_SEED + 3)
        pid = 30000
        for d in range(1, self.days + 1):
            for h in range(24):
                pid += r.randint(20, 400)
                t = self.at(d, h, 17, 1 + r.random() * 0.4)
                self.syslog(t, "CRON[%d]: pam_unix(cron:session): session opened for user "
                               "root(uid=0) by (uid=0)" % pid)
                self.syslog(t + r.uniform(0.01, 0.05), "CRON[%d]: pam_unix(cron:session): "
                            "session closed for user root" % pid)
            pid += r.randint(20, 400)
            t = self.at(d, 0, 30, r.random())
            self.syslog(t, "CRON[%d]: pam_unix(cron:session): session opened for user "
                           "postgres(uid=114) by (uid=0)" % pid)
            self.syslog(t + r.uniform(40, 90), "CRON[%d]: pam_unix(cron:session): session "
                        "closed for user postgres" % pid)

    # -------------------------------------------------------------- background
    def office_interval(self, r, ws, d):
        """(arrive, leave) of the user at ws on day d, or None when nobody comes in."""
        wd = self.weekday(d)
        if wd >= 5:
            if r.random() < 0.06:
                a = self.at(d, r.randint(9, 13), r.randint(0, 59))
                return a, a + r.uniform(1.5, 4) * 3600
            return None
        if r.random() < 0.08:
            return None          # leave, sick, travel
        a = self.at(d, 8, 0) + r.gauss(0, 35) * 60
        b = self.at(d, 17, 45) + r.gauss(0, 50) * 60
        return a, max(b, a + 3 * 3600)

    def background(self):
        r, P = self.bg, self.bg_ports
        pollers = {}        # host -> list of (on, off) machine-up intervals
        for ws in WORKSTATIONS:
            pollers[ws] = []
        for d in range(1, self.days + 1):
            day0, day1 = self.day_start(d), self.day_start(d) + 86400
            fs2_live = d >= FS2_DAY
            for ws in WORKSTATIONS:
                iv = self.office_interval(r, ws, d)
                if ws in ALWAYS_ON:
                    pollers[ws].append((day0, day1))
                elif iv:
                    pollers[ws].append((iv[0] - 300, iv[1] + 120))
                if not iv:
                    continue
                a, b = max(iv[0], day0), min(iv[1], day1)
                self.workstation_hours(r, P, ws, d, a, b, fs2_live)
            self.server_day(r, P, d)
        for host in WINDOWS_SERVERS + [JUMP]:
            pollers[host] = [(max(self.day_start(1), self.at(FS2_DAY, 9) if host == FS2 else 0),
                              self.t_end)]
        self.update_polling(pollers)

    def fs2_user(self, ws, d):
        n = int(ws.rsplit(".", 1)[1])
        return any(d >= day and n in rng for day, rng in FS2_ROLLOUT)

    def workstation_hours(self, r, P, ws, d, a, b, fs2_live):
        for t in self.poisson_times(r, 1.1, a, b):
            w = r.random()
            if w < 0.8:
                name = r.choices([n for _, n in BROWSE_NAMES], [w_ for w_, _ in BROWSE_NAMES])[0]
                qt = "A" if r.random() < 0.75 else ("AAAA" if r.random() < 0.7 else "HTTPS")
                self.lookup(r, P, t, ws, name, qt, ttl=r.choice([60, 300, 300, 3600]))
            elif w < 0.97:
                self.lookup(r, P, t, ws, r.choice(INTERNAL_NAMES), "A" if r.random() < 0.8 else "SRV",
                            answers=[r.choice([DC, FS1, APP, PRINT])], miss=0, ttl=1200)
            else:
                self.lookup(r, P, t, ws, "%08x.corp.example" % r.getrandbits(32), "A",
                            rcode="NXDOMAIN", miss=0)
        for t in self.poisson_times(r, 1.5, a, b):
            x = r.random()
            dst = self.public(r)
            if x < 0.02:
                self.tcp(r, P, t, ws, dst, 443, "S0")
            elif x < 0.04:
                self.tcp(r, P, t, ws, dst, 443, "RSTR", "ssl", ob=r.randint(500, 2500),
                         rb=r.randint(200, 6000))
            elif x < 0.06:    # cloud-sync upload, far below anything exfil-like
                self.tcp(r, P, t, ws, dst, 443, "SF", "ssl",
                         ob=self.lognorm(r, 3_000_000, 1.0, hi=50_000_000),
                         rb=r.randint(8000, 60000), duration=r.uniform(5, 200))
            elif x < 0.14:
                self.udp(r, P, t, ws, dst, 443, "quic", ob=self.lognorm(r, 9000, 1.0, lo=1300),
                         rb=self.lognorm(r, 60000, 1.5, lo=1300), opkts=r.randint(8, 40),
                         rpkts=r.randint(10, 80), duration=r.uniform(0.3, 40))
            else:
                self.tcp(r, P, t, ws, dst, 443, "SF", "ssl", ob=self.lognorm(r, 1800, 0.8, lo=300),
                         rb=self.lognorm(r, 24000, 1.6, lo=900, hi=80_000_000),
                         duration=r.uniform(0.1, 3) * math.exp(r.gauss(0, 1)))
        for t in self.poisson_times(r, 0.45, a, b):
            k = r.random()
            if k < 0.4:
                self.udp(r, P, t, ws, DC, 88, "krb", ob=r.randint(1400, 1700), rb=r.randint(1500, 1900))
            elif k < 0.8:
                self.tcp(r, P, t, ws, DC, 389, "SF", "ldap_tcp", ob=r.randint(800, 5000),
                         rb=r.randint(1500, 20000))
            elif k < 0.9:
                self.tcp(r, P, t, ws, DC, 445, "SF", "gssapi,smb,krb", ob=r.randint(3000, 30000),
                         rb=r.randint(4000, 90000), duration=r.uniform(0.1, 20))
            else:
                self.tcp(r, P, t, ws, DC, 135, "SF", "dce_rpc", ob=r.randint(150, 250),
                         rb=r.randint(130, 220))
                self.tcp(r, P, t + r.uniform(0.002, 0.02), ws, DC, r.choice([49667, 49668]), "SF",
                         "dce_rpc", ob=r.randint(1200, 8000), rb=r.randint(900, 12000))
        use_fs2 = fs2_live and self.fs2_user(ws, d)
        for t in self.poisson_times(r, 0.5, a, b):
            fs = FS2 if use_fs2 and t >= self.at(FS2_DAY, 9) and r.random() < 0.75 else FS1
            self.tcp(r, P, t, ws, fs, 445, "SF", "gssapi,smb,krb",
                     ob=self.lognorm(r, 6000, 1.2, lo=900, hi=40_000_000),
                     rb=self.lognorm(r, 40000, 1.8, lo=900, hi=200_000_000),
                     duration=r.uniform(0.5, 20) * math.exp(r.gauss(0, 1)))
        if ws in SALES:
            for t in self.poisson_times(r, 0.6, a, b):
                self.tcp(r, P, t, ws, APP, 443, "SF", "ssl", ob=self.lognorm(r, 2500, 0.7, lo=500),
                         rb=self.lognorm(r, 30000, 1.0, lo=2000), duration=r.uniform(0.3, 8))
        for t in self.poisson_times(r, 0.05, a, b):
            if r.random() < 0.2:
                self.tcp(r, P, t, ws, PRINT, 9100, "REJ")
            else:
                self.tcp(r, P, t, ws, PRINT, 9100, "SF", None, ob=self.lognorm(r, 300000, 1.0),
                         rb=0, duration=r.uniform(1, 15))
        for t in self.poisson_times(r, 0.15, a, b):
            k = r.random()
            if k < 0.4:
                self.udp(r, P, t, ws, "10.20.1.255", 137, None, ob=50, reply=False, oport=137)
            elif k < 0.7:
                self.udp(r, P, t, ws, "224.0.0.251", 5353, "dns", ob=r.randint(40, 200),
                         reply=False, oport=5353)
            else:
                self.udp(r, P, t, ws, "239.255.255.250", 1900, None, ob=r.randint(120, 180),
                         reply=False, opkts=r.randint(2, 4))
        if ws in IT_ADMINS:
            for t in self.poisson_times(r, 0.5, a, b):
                self.tcp(r, P, t, ws, JUMP, 3389, "SF", "rdp", ob=self.lognorm(r, 900000, 1.0),
                         rb=self.lognorm(r, 12_000_000, 1.0), duration=r.uniform(300, 2400))
            for t in self.poisson_times(r, 0.2, a, b):
                self.tcp(r, P, t, ws, JUMP, 22, "SF", "ssh", ob=r.randint(3000, 40000),
                         rb=r.randint(4000, 90000), duration=r.uniform(20, 900))

    def server_day(self, r, P, d):
        day0, day1 = self.day_start(d), self.day_start(d) + 86400
        wd = self.weekday(d)
        office = (self.at(d, 8, 30), self.at(d, 18)) if wd < 5 else None
        fs2_live = d >= FS2_DAY
        # order application <-> DB (the DB's only client), busier in office hours
        for t in self.poisson_times(r, 2.0, day0, day1) + (
                self.poisson_times(r, 6.0, *office) if office else []):
            if r.random() < 0.9:
                self.tcp(r, P, t, APP, DB, 5432, "SF", "postgresql",
                         ob=self.lognorm(r, 20000, 1.0, lo=400),
                         rb=self.lognorm(r, 250000, 1.3, lo=500, hi=90_000_000),
                         duration=r.uniform(1, 80))
            else:
                self.tcp(r, P, t, APP, DB, 1433, "SF", None, ob=r.randint(3000, 20000),
                         rb=self.lognorm(r, 800000, 1.0, hi=60_000_000), duration=r.uniform(1, 30))
        servers = [s for s in LIVE_SERVERS if s != FS2 or fs2_live] + [JUMP]
        for srv in servers:
            lo = self.at(FS2_DAY, 9) if srv == FS2 else day0
            for t in self.poisson_times(r, 0.4, max(lo, day0), day1):
                if srv == DC:
                    self.lookup(r, P, t, DC, r.choice(BROWSE_NAMES)[1], miss=0.5)
                else:
                    self.tcp(r, P, t, srv, DC, 88, "SF", "krb_tcp", ob=r.randint(1400, 2200),
                             rb=r.randint(1500, 2600))
            if srv != DC:
                for t in self.poisson_times(r, 0.15, max(lo, day0), day1):
                    self.tcp(r, P, t, srv, DC, 389, "SF", "ldap_tcp", ob=r.randint(800, 3000),
                             rb=r.randint(1500, 9000))
            if srv in (DC, APP, BACKUP, MONITOR):
                for t in self.poisson_times(r, 0.12, max(lo, day0), day1):
                    self.tcp(r, P, t, srv, self.public(r), 443, "SF", "ssl",
                             ob=r.randint(1000, 9000), rb=self.lognorm(r, 200000, 1.5),
                             duration=r.uniform(0.2, 20))
        # DC keeps time with the outside world every 1024 s (periodic, single host)
        for t in self.ntp_times(day0, day1):
            self.udp(r, P, t, DC, NTP_EXT[int(t // 1024) % 2], 123, "ntp", ob=48, rb=48, oport=123)
        # monitoring pings: 5 targets every 30 min
        for k in range(48):
            t = day0 + k * 1800 + 11.0 + r.uniform(0, 2)
            for j, dst in enumerate([GATEWAY, DC, FS1, APP, DB]):
                self.icmp(r, t + j * 0.05, MONITOR, dst, count=3)
        # Linux servers: daily package index refresh from the Debian mirror
        for srv in LINUX_SERVERS:
            t = self.at(d, 6, r.randint(0, 59), r.uniform(0, 59))
            self.lookup(r, P, t, srv, "deb.debian.org", miss=0.8, answers=[DEBIAN_MIRROR])
            self.tcp(r, P, t + 0.05, srv, DEBIAN_MIRROR, 80, "SF", "http", ob=r.randint(900, 2500),
                     rb=self.lognorm(r, 400000, 1.2), duration=r.uniform(0.5, 6))
        # IPv6 router solicitations / neighbour discovery chatter, a few an hour
        for t in self.poisson_times(r, 1.0, day0, day1):
            host = "fe80::%x:%x:%x:%x" % tuple(r.randint(0, 0xffff) for _ in range(4))
            self.emit(r, t, host, 135, "ff02::1:ff%02x:%04x" % (r.randint(0, 255),
                      r.randint(0, 0xffff)), 0, "icmp", None, None, 32, 0, "OTH", "-", 1, 72, 0, 0)

    def ntp_times(self, lo, hi):
        k = math.ceil((lo - 37.5) / 1024)
        out = []
        while True:
            t = 37.5 + k * 1024 + (k * 7919 % 97) / 1000.0
            if t >= hi:
                return out
            if t >= lo:
                out.append(t)
            k += 1

    def update_polling(self, pollers):
        """Vendor update agent on every Windows host: one check every 60 min while the machine
        is up, to a CDN name shared by all of them (the beaconing prevalence confounder)."""
        r = random.Random(PLANT_SEED + 11)
        P = Ports(r)
        patch_day = next((d for d in range(1, self.days + 1)
                          if self.weekday(d) == 1 and 8 <= int(iso(self.day_start(d))[8:10]) <= 14),
                         None)
        for host in sorted(pollers, key=lambda h: ipaddress.ip_address(h)):
            phase = r.uniform(0, 3600)
            for on, off in pollers[host]:
                k = math.ceil((on - self.t0 - phase) / 3600)
                while True:
                    t = self.t0 + phase + k * 3600 + r.uniform(-20, 20)
                    k += 1
                    if t >= off or t >= self.t_end:
                        break
                    if t < on or t < self.t0:
                        continue
                    dst = UPDATE_CDN[(k + int(host.rsplit(".", 1)[1])) % 3]
                    if r.random() < 0.15:
                        self.lookup(r, P, t - 0.02, host, UPDATE_FQDN, answers=UPDATE_CDN,
                                    miss=0.1, ttl=3600)
                    big = (patch_day is not None and self.day_start(patch_day) + 17 * 3600 <= t
                           < self.day_start(patch_day) + 41 * 3600 and r.random() < 0.12)
                    self.tcp(r, P, t, host, dst, 443, "SF", "ssl", ob=r.randint(820, 1020),
                             rb=self.lognorm(r, 48_000_000, 0.5) if big else r.randint(4600, 5900),
                             duration=r.uniform(30, 400) if big else r.uniform(0.15, 0.6))

    # -------------------------------------------------------------- named confounders
    def confounders(self):
        r, P = self.pl, self.pl_ports
        T = self.truth_flows
        # jump host administration (RDP/SSH/WinRM to servers), weekdays in office hours
        T["jump_admin"] = []
        for d in range(1, self.days + 1):
            if self.weekday(d) >= 5:
                continue
            for t in self.poisson_times(r, 1.2, self.at(d, 8, 30), self.at(d, 18)):
                k = r.random()
                wins = [s for s in WINDOWS_SERVERS if s != FS2 or d >= FS2_DAY]
                if k < 0.45:
                    f = self.tcp(r, P, t, JUMP, r.choice(wins), 3389, "SF", "rdp",
                                 ob=self.lognorm(r, 600000, 1.0),
                                 rb=self.lognorm(r, 9_000_000, 1.0), duration=r.uniform(120, 1800))
                elif k < 0.6:
                    f = self.tcp(r, P, t, JUMP, r.choice(wins), 5985, "SF", "http",
                                 ob=r.randint(4000, 30000), rb=r.randint(6000, 80000),
                                 duration=r.uniform(1, 60))
                elif k < 0.75:
                    f = self.ssh_session(r, P, t, JUMP, "dba", "publickey",
                                         r.uniform(60, 1500), 1001)
                else:
                    f = self.tcp(r, P, t, JUMP, r.choice([DNS, BACKUP, MONITOR]), 22, "SF", "ssh",
                                 ob=r.randint(3000, 60000), rb=r.randint(4000, 300000),
                                 duration=r.uniform(10, 1200))
                T["jump_admin"].append(f)
        # an administrator mistyping a password twice before getting in (not brute force)
        T["admin_typo"] = []
        for d, hh, mm in [(5, 9, 12), (16, 14, 3)]:
            if d <= self.days:
                T["admin_typo"].append(self.ssh_session(
                    r, P, self.at(d, hh, mm, 20.5), JUMP, "kato", "password", 840, 1004, typos=2))
        # weekly vulnerability scan of the server subnet (Tuesdays 01:00)
        T["vuln_scan"] = []
        for d in range(1, self.days + 1):
            if self.weekday(d) == 1:
                T["vuln_scan"] += self.vuln_scan(r, P, d)
        # nightly internal backups to the backup server and off-site copies to cloud storage
        T["internal_backup"], T["cloud_backup"], T["cloud_full"] = [], [], []
        full_day = next((d for d in range(14, self.days + 1) if self.weekday(d) == 6), None)
        for d in range(1, self.days + 1):
            t = self.at(d, 1, 0, r.uniform(0, 30))
            night = 0
            clients = [DC, FS1] + ([FS2] if d > FS2_DAY else []) + [APP, DB, PRINT]
            for c in clients:
                size = {FS1: 2_100_000_000, FS2: 1_300_000_000, DB: 950_000_000}.get(c, 120_000_000)
                size = int(size * r.uniform(0.7, 1.3))
                self.tcp(r, P, t, BACKUP, c, 9102, "SF", None, ob=r.randint(2000, 6000),
                         rb=r.randint(1500, 4000), duration=r.uniform(0.3, 2))
                dur = size / r.uniform(45e6, 70e6)
                T["internal_backup"].append(self.tcp(r, P, t + 2.1, c, BACKUP, 9103, "SF", None,
                                                     ob=size, rb=r.randint(200000, 900000),
                                                     duration=dur))
                night += size
                t += dur + r.uniform(20, 90)
            full = d == full_day          # first Sunday after the learning period: monthly full
            total = int(24.5e9) if full else int(night * r.uniform(0.45, 0.6))
            t = max(t, self.at(d, 3, 30)) + r.uniform(0, 60)
            part = 268_435_456
            while total > 0:
                ob = min(part, total)
                dur = ob / r.uniform(1.05e6, 1.3e6)
                f = self.tcp(r, P, t, BACKUP, CLOUD_BACKUP[int(t) % 4], 443, "SF", "ssl", ob=ob,
                             rb=r.randint(9000, 20000), duration=dur)
                (T["cloud_full"] if full else T["cloud_backup"]).append(f)
                total -= ob
                t += dur + r.uniform(0.5, 4)

    def vuln_scan(self, r, P, d):
        out = []
        t = self.at(d, 1, 0, 4.0 + r.random())
        live = [h for h in LIVE_SERVERS if h != FS2 or d >= FS2_DAY]
        for i in range(1, 255):
            h = "10.20.10.%d" % i
            t += r.uniform(0.01, 0.05)
            out.append(self.icmp(r, t, SCANNER, h, reply=h in live))
        ports = sorted(set([21, 22, 23, 25, 53, 80, 88, 110, 111, 135, 139, 143, 389, 443, 445,
                            464, 515, 587, 631, 636, 993, 995, 1433, 1521, 2049, 3268, 3306, 3389,
                            5432, 5666, 5900, 5985, 5986, 6379, 8000, 8080, 8443, 9100, 9101,
                            9102, 9103, 9200, 10000, 27017] + list(range(1, 1025, 16))))
        t += 20
        for h in live:
            for p in ports:
                t += r.uniform(0.004, 0.03)
                out.append(self.tcp(r, P, t, SCANNER, h, p,
                                    "SYNOPEN" if p in OPEN_PORTS.get(h, []) else "REJ"))
        # credentialed checks: SMB on Windows servers, SSH (default passwords, then its key) on srv-db
        t += 60
        for h in [s for s in WINDOWS_SERVERS if s in live]:
            t += r.uniform(3, 20)
            out.append(self.tcp(r, P, t, SCANNER, h, 445, "SF", "gssapi,smb,ntlm",
                                ob=r.randint(40000, 90000), rb=r.randint(150000, 600000),
                                duration=r.uniform(20, 90)))
        t += 30
        pid = self.pid(r)
        sport = P.get(SCANNER)
        ts = t
        for user in ["root", "root", "admin", "admin", "postgres", "postgres", "oracle", "root",
                     "admin", "test", "postgres", "root"]:
            t += r.uniform(1.0, 4.0)
            if user in ("admin", "oracle", "test"):
                self.syslog(t - 0.3, "sshd[%d]: Invalid user %s from %s port %d"
                            % (pid, user, SCANNER, sport))
                self.syslog(t, "sshd[%d]: Failed password for invalid user %s from %s port %d ssh2"
                            % (pid, user, SCANNER, sport))
            else:
                self.syslog(t, "sshd[%d]: Failed password for %s from %s port %d ssh2"
                            % (pid, user, SCANNER, sport))
        self.syslog(t + 0.5, "sshd[%d]: Connection closed by authenticating user root %s port "
                             "%d [preauth]" % (pid, SCANNER, sport))
        out.append(self.tcp(r, P, ts, SCANNER, DB, 22, "SF", "ssh", ob=r.randint(5000, 9000),
                            rb=r.randint(6000, 12000), duration=t + 0.5 - ts, oport=sport))
        out.append(self.ssh_session(r, P, t + 3, SCANNER, "nessus", "publickey",
                                    r.uniform(60, 180), 1002,
                                    fp="SHA256:Wc1hQ0f3k3E8Jr5b5pnq2mI2o6p3K0f7Zt3yq8vL0aQ"))
        return out

    # -------------------------------------------------------------- attack stages
    def attacks(self):
        r, P = self.pl, self.pl_ports
        T = self.truth_flows
        # (1) beacon: device A -> C2 every 60 s +-6 s, from day 8 21:07 to the end of the data
        T["beacon"] = []
        t = self.at(8, 21, 7, 31.402117)
        while t < self.t_end:
            task = r.random() < 0.01
            T["beacon"].append(self.tcp(r, P, t, DEVICE_A, C2, 443, "SF", "ssl",
                                        ob=r.randint(1180, 1320),
                                        rb=r.randint(20000, 90000) if task else r.randint(3900, 4300),
                                        duration=r.uniform(0.18, 0.55)))
            t += 60 + r.uniform(-6, 6)
        # (2) internal scan from device A, day 9 13:41
        T["scan"] = []
        t = self.at(9, 13, 41, 18.204511)
        live = [h for h in LIVE_SERVERS if h != FS2]        # fs02 does not exist yet on day 9
        for i in range(1, 255):
            h = "10.20.10.%d" % i
            for p in (22, 445):
                t += r.uniform(0.2, 0.9)
                if h not in live:
                    st = "S0"
                elif p in OPEN_PORTS[h]:
                    st = "SYNOPEN"
                else:
                    st = "REJ"
                T["scan"].append(self.tcp(r, P, t, DEVICE_A, h, p, st))
        t += 95.0
        ports = [21, 23, 25, 80, 111, 135, 139, 443, 1433, 1521, 2049, 3306, 5432, 5900, 5985,
                 5986, 6379, 8080, 8443, 9200]
        for h in live:
            for p in r.sample(ports, len(ports)):
                t += r.uniform(0.1, 0.5)
                T["scan"].append(self.tcp(r, P, t, DEVICE_A, h, p,
                                          "SYNOPEN" if p in OPEN_PORTS[h] else "REJ"))
        # (3) SSH password guessing on srv-db from device A, day 9 23:37 -> success day 10 00:04
        T["bruteforce_conns"], T["bruteforce_fail"] = [], []
        t = self.at(9, 23, 37, 12.550120)
        users = (["root"] * 12 + ["admin"] * 6 + ["postgres"] * 9 + ["oracle"] * 3 +
                 ["dbadmin"] * 12 + ["ubuntu"] * 4)
        i = 0
        while i < len(users):
            pid, sport, ts = self.pid(r), P.get(DEVICE_A), t
            tries = users[i:i + 3]
            seen = []                 # sshd/pam say "Invalid user" / "authentication failure" once
            for u in tries:
                t += r.uniform(8, 22)
                first = u not in seen
                seen.append(u)
                if u in ("admin", "oracle", "ubuntu"):
                    if first:
                        self.syslog(t - 1.2, "sshd[%d]: Invalid user %s from %s port %d"
                                    % (pid, u, DEVICE_A, sport))
                    self.syslog(t, "sshd[%d]: Failed password for invalid user %s from %s port %d ssh2"
                                % (pid, u, DEVICE_A, sport))
                else:
                    if first:
                        self.syslog(t - 2.1, "sshd[%d]: pam_unix(sshd:auth): authentication failure; "
                                    "logname= uid=0 euid=0 tty=ssh ruser= rhost=%s  user=%s"
                                    % (pid, DEVICE_A, u))
                    self.syslog(t, "sshd[%d]: Failed password for %s from %s port %d ssh2"
                                % (pid, u, DEVICE_A, sport))
                T["bruteforce_fail"].append({"ts": round(t, 6), "user": u, "sport": sport})
            t += 0.4
            self.syslog(t, "sshd[%d]: Connection closed by authenticating user %s %s port %d "
                           "[preauth]" % (pid, tries[-1], DEVICE_A, sport))
            T["bruteforce_conns"].append(self.tcp(r, P, ts, DEVICE_A, DB, 22, "SF", "ssh",
                                                  ob=r.randint(2600, 3400), rb=r.randint(3200, 4200),
                                                  duration=t - ts, oport=sport))
            t += r.uniform(1.5, 6)
            i += 3
        t = self.at(10, 0, 3, 55.118204)
        T["bruteforce_success"] = [self.ssh_session(r, P, t, DEVICE_A, "dbadmin", "password",
                                                    1312.4, 1003)]
        sudo_t = t + 201.7
        self.syslog(sudo_t, "sudo:  dbadmin : TTY=pts/0 ; PWD=/home/dbadmin ; USER=postgres ; "
                            "COMMAND=/usr/bin/psql -l")
        self.syslog(sudo_t + 0.01, "sudo: pam_unix(sudo:session): session opened for user "
                                   "postgres(uid=114) by dbadmin(uid=1003)")
        self.syslog(sudo_t + 0.4, "sudo: pam_unix(sudo:session): session closed for user postgres")
        # (4) device A speaks PostgreSQL to the order DB directly, day 12 14:06
        T["db_direct"] = []
        for hh, mm, ss, ob, rb, dur in [(14, 6, 40.771305, 1420, 2806, 3.91),
                                       (14, 9, 2.006113, 38_114, 61_482_907, 148.3),
                                       (14, 17, 45.332790, 21_907, 24_110_482, 61.0)]:
            T["db_direct"].append(self.tcp(r, P, self.at(12, hh, mm, ss), DEVICE_A, DB, 5432, "SF",
                                           "postgresql", ob=ob, rb=rb, duration=dur))
        # (5) DNS tunnel from device A, day 13 16:20 (TXT queries, base32 labels)
        T["dns_tunnel"] = []
        t = self.at(13, 16, 20, 5.880412)
        for k in range(1100):
            lab = "".join(r.choice(B32) for _ in range(r.randint(44, 56)))
            name = "%s.%04x.%s" % (lab, k, TUNNEL_DOMAIN)
            txt = "".join(r.choice(B32) for _ in range(r.randint(24, 40)))
            uid = self.lookup(r, P, t, DEVICE_A, name, "TXT", miss=1.0, ttl=0, txt=txt)
            T["dns_tunnel"].append({"ts": round(t, 6), "uid": uid, "name": name, "duration": 0.0,
                                    "state": "SF", "dport": 53})
            t += r.uniform(2.5, 5.5)
        # (6) RDP pivot device A -> device B, day 15 10:12 (a Sunday)
        T["rdp_pivot"] = [self.tcp(r, P, self.at(15, 10, 12, 33.016254), DEVICE_A, APP, 3389, "SF",
                                   "rdp", ob=3_118_207, rb=61_240_788, duration=4210.55)]
        # (7) device B moves on to C = file server fs01 over SMB + RPC (PsExec-like), 10:31
        t = self.at(15, 10, 31, 2.447781)
        T["b_to_c"] = [
            self.tcp(r, P, t, APP, FS1, 445, "SF", "gssapi,ntlm,smb", ob=512_904, rb=23_117,
                     duration=7.12),
            self.tcp(r, P, t + 8.31, APP, FS1, 135, "SF", "dce_rpc", ob=220, rb=176,
                     duration=0.0051),
            self.tcp(r, P, t + 8.34, APP, FS1, 49668, "SF", "dce_rpc", ob=3_118, rb=1_402,
                     duration=0.42),
            self.tcp(r, P, t + 95.2, APP, FS1, 445, "SF", "gssapi,ntlm,smb", ob=48_220,
                     rb=182_904_118, duration=96.4),
        ]
        # (8) staging: B pulls far more than usual from the DB, day 18 01:40
        T["staging"] = []
        t = self.at(18, 1, 40, 12.905227)
        for k in range(4):
            rb = [1_402_118_907, 1_288_004_512, 1_176_330_064, 744_913_280][k]
            f = self.tcp(r, P, t, APP, DB, 5432, "SF", "postgresql", ob=61_000 + k * 733, rb=rb,
                         duration=rb / 2.6e6)
            T["staging"].append(f)
            t += rb / 2.6e6 + r.uniform(3, 9)
        # (9) exfiltration: B uploads the staged data to the Internet, day 18 02:21
        T["exfil"] = []
        t = self.at(18, 2, 21, 47.660194)
        for k in range(7):
            ob = 498_000_000 + k * 1_731_337 if k < 6 else 371_224_019
            dur = ob / 1.42e6
            T["exfil"].append(self.tcp(r, P, t, APP, EXFIL, 443, "SF", "ssl", ob=ob,
                                       rb=r.randint(1_400_000, 2_100_000), duration=dur))
            t += dur + r.uniform(1, 4)

    # -------------------------------------------------------------- output
    def write(self, out):
        for sub in ("zeek", "syslog"):
            p = os.path.join(out, sub)
            if os.path.isdir(p):
                shutil.rmtree(p)
        files = {"conn": 0, "dns": 0}
        for kind, recs, fields, types in (("conn", self.conn, CONN_FIELDS, CONN_TYPES),
                                          ("dns", self.dns, DNS_FIELDS, DNS_TYPES)):
            hours = {}
            for w, s, line in sorted(recs):
                if self.in_range(w):
                    hours.setdefault(int((w - self.t0) // 3600), []).append(line)
            for h in range(self.days * 24):
                lines = hours.get(h)
                if not lines and kind == "dns":
                    continue
                opened = self.t0 + h * 3600
                closed = opened + 3600
                day = dt.datetime.fromtimestamp(opened, dt.timezone.utc)
                name = "%s.%02d:00:00-%02d:00:00.log" % (kind, day.hour, (day.hour + 1) % 24)
                d = os.path.join(out, "zeek", day.strftime("%Y-%m-%d"))
                os.makedirs(d, exist_ok=True)
                text = "\n".join([
                    "#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)",
                    "#unset_field\t-", "#path\t" + kind, "#open\t" + zeek_stamp(opened),
                    "#fields\t" + "\t".join(fields), "#types\t" + "\t".join(types)]
                    + (lines or []) + ["#close\t" + zeek_stamp(closed)]) + "\n"
                self._gz(os.path.join(d, name + ".gz"), name, text.encode(), closed)
                files[kind] += 1
        files["auth"] = self.write_auth(out)
        return files

    @staticmethod
    def _gz(path, name, data, mtime):
        with open(path, "wb") as raw:
            with gzip.GzipFile(filename=name, mode="wb", fileobj=raw, compresslevel=9,
                               mtime=int(mtime)) as z:
                z.write(data)
        os.utime(path, (int(mtime), int(mtime)))

    def rotations(self):
        """Weekly logrotate runs at 00:00 on the weekday three days after --start."""
        out, t = [], self.t0 + 3 * 86400
        while t < self.t_end:
            out.append(t)
            t += 7 * 86400
        return out

    def write_auth(self, out):
        d = os.path.join(out, "syslog", "srv-db")
        os.makedirs(d, exist_ok=True)
        bounds = [self.t0] + self.rotations() + [self.t_end]
        gens = []
        for lo, hi in zip(bounds, bounds[1:]):
            lines = []
            for t, s, text in sorted(self.auth):
                if lo <= t < hi:
                    stamp = dt.datetime.fromtimestamp(t, dt.timezone.utc)
                    lines.append("%s %2d %s srv-db %s" % (stamp.strftime("%b"), stamp.day,
                                                          stamp.strftime("%H:%M:%S"), text))
            gens.append(("".join(l + "\n" for l in lines), lo, hi))
        names = []
        gens.reverse()                    # newest first: auth.log, auth.log.1, auth.log.2.gz ...
        for n, (text, lo, hi) in enumerate(gens[:5]):     # rotate 4: older generations are deleted
            mtime = int(min(hi, self.t_end))
            if n == 0:
                name = "auth.log"
            elif n == 1:
                name = "auth.log.1"
            else:
                name = "auth.log.%d.gz" % n
            path = os.path.join(d, name)
            if name.endswith(".gz"):
                self._gz(path, "", text.encode(), mtime)
            else:
                with open(path, "w", newline="\n") as f:
                    f.write(text)
                os.utime(path, (mtime, mtime))
            names.append({"name": name, "covers": [iso(lo), iso(hi)], "lines": text.count("\n")})
        return names


# ------------------------------------------------------------------ truth
def span(flows):
    lo = min(f["ts"] for f in flows)
    hi = max(f["ts"] + (f["duration"] or 0) for f in flows)
    return {"start": iso(lo), "end": iso(hi), "start_ts": round(lo, 6), "end_ts": round(hi, 6)}


def count_states(flows):
    out = {}
    for f in flows:
        out[f["state"]] = out.get(f["state"], 0) + 1
    return dict(sorted(out.items()))


def truth(sc, files, start):
    T = sc.truth_flows
    days = sc.days
    stages, confs = [], []

    def stage(sid, day, title, flows, src, dst, dport, detectors, may=(), sigma=(), attack=(),
              evidence=None, notes="", logs=("conn",)):
        flows = [f for f in flows if f.get("written", True)]
        if day > days or not flows:
            return
        e = {"flows": len(flows), "conn_states": count_states(flows)}
        e.update(evidence or {})
        stages.append({"id": sid, "day": day, "title": title, "window": span(flows), "src": src,
                       "dst": dst, "dport": dport, "logs": list(logs), "detectors": list(detectors),
                       "may_also": list(may), "sigma_rules": list(sigma), "attack": list(attack),
                       "evidence": e, "notes": notes,
                       "uids": None if sid == "S1-beacon" else [f["uid"] for f in flows]})

    b = [f for f in T["beacon"] if f["written"]]
    gaps = [round(y["ts"] - x["ts"], 6) for x, y in zip(b, b[1:])] or [0.0]
    stage("S1-beacon", 8, "device A beacons to an external C2 over TLS every 60 s +-6 s", b,
          DEVICE_A, C2, 443, ["net.beaconing"], may=["net.long_connection"],
          attack=["T1071.001", "T1573"],
          evidence={"interval_s": {"min": min(gaps), "max": max(gaps),
                                   "mean": round(sum(gaps) / len(gaps), 3)},
                    "orig_bytes_range": [min(f["orig_bytes"] for f in b),
                                         max(f["orig_bytes"] for f in b)] if b else []},
          notes="Direct to the IP (no DNS lookup). Runs until the end of the data; ~1% of the "
                "check-ins fetch a task (larger resp_bytes). Prevalence: 1 internal host.")
    sc_ = T["scan"]
    fails = [f for f in sc_ if f["state"] in ("S0", "REJ")]
    admin = {22, 23, 135, 139, 445, 3389, 5900, 5985, 5986}
    stage("S2-internal-scan", 9, "device A sweeps 10.20.10.0/24 on 22/445, then 20 ports on the "
          "live servers", sc_, DEVICE_A, "10.20.10.0/24", sorted({f["dport"] for f in sc_}),
          ["net.internal_scan"], may=["net.sensitive_asset_access"], sigma=[RULE_WS_REJ],
          attack=["T1046", "T1018"],
          evidence={"failed_unique_dst_port": len({(f["dst"], f["dport"]) for f in fails}),
                    "distinct_dsts": len({f["dst"] for f in sc_}),
                    "distinct_admin_port_dsts": len({f["dst"] for f in sc_ if f["dport"] in admin}),
                    "rej_on_sigma_admin_ports": sum(1 for f in sc_ if f["state"] == "REJ" and
                                                    f["dport"] in (22, 23, 135, 139, 445, 1433,
                                                                   1521, 3306, 3389, 5432, 5900,
                                                                   5985, 5986))},
          notes="Half-open probes of open ports are RSTO/ShR with zero bytes. The scan never "
                "probes 3389, so the day-15 RDP edge A->B is new whatever a detector makes of "
                "ShR probes.")
    bf = T["bruteforce_conns"] + T["bruteforce_success"] if days >= 10 else []
    stage("S3-ssh-bruteforce", 9, "device A guesses SSH passwords on srv-db, then logs on as "
          "dbadmin", bf, DEVICE_A, DB, 22, ["auth.bruteforce_success"],
          may=["net.sensitive_asset_access", "net.new_internal_edge", "auth.fanout"],
          attack=["T1110.001", "T1078"], logs=("conn", "auth"),
          evidence={"failed_password_lines": len(T["bruteforce_fail"]),
                    "failed_users": sorted({x["user"] for x in T["bruteforce_fail"]}),
                    "first_failure": iso(T["bruteforce_fail"][0]["ts"]),
                    "last_failure": iso(T["bruteforce_fail"][-1]["ts"]),
                    "accepted": {"user": "dbadmin", "method": "password",
                                 "ts": iso(T["bruteforce_success"][0]["ts"])},
                    "auth_file": "syslog/srv-db/" + next(
                        (g["name"] for g in files["auth"]
                         if g["covers"][0] <= iso(T["bruteforce_success"][0]["ts"]) < g["covers"][1]),
                        "?")},
          notes="Crosses midnight (syslog day 'Mar  9' -> 'Mar 10'). Each guessing connection "
                "makes three tries, so the conn log shows many short SSH sessions; the "
                "successful session lasts ~22 min and runs one sudo psql.")
    stage("S4-db-direct", 12, "device A speaks PostgreSQL to the order DB (only device B is a "
          "client)", T["db_direct"], DEVICE_A, DB, 5432, ["net.sensitive_asset_access"],
          may=["net.new_internal_edge"], sigma=[RULE_WS_DB], attack=["T1213", "T1005"],
          evidence={"resp_bytes_total": sum(f["resp_bytes"] for f in T["db_direct"])},
          notes="Inside the default 14-day learning period: the new-edge detector is still "
                "learning; the asset's configured allowed_clients make this a finding anyway.")
    tun = T["dns_tunnel"]
    stage("S5-dns-tunnel", 13, "device A tunnels data in TXT queries under " + TUNNEL_DOMAIN,
          tun, DEVICE_A, DNS, 53, ["dns.tunnel"], attack=["T1071.004", "T1048.003"],
          logs=("dns", "conn"),
          evidence={"queries": len(tun), "unique_names": len({x["name"] for x in tun}),
                    "qtype": "TXT", "registered_domain": TUNNEL_DOMAIN.split(".", 1)[1],
                    "first_label_length": [44, 56]},
          notes="Flows here are dns.log queries by device A. Every query misses the resolver "
                "cache, so 10.20.10.11 forwards each one upstream (also in dns.log and conn).")
    stage("S6-rdp-pivot", 15, "device A opens RDP to device B (first-seen internal edge)",
          T["rdp_pivot"], DEVICE_A, APP, 3389,
          ["net.new_internal_edge", "net.admin_protocol_anomaly"],
          may=["net.sensitive_asset_access", "net.long_connection", "net.lateral_chain"],
          sigma=[RULE_WS_RDP], attack=["T1021.001"],
          notes="Day 15 is the first day after the default 14-day learning period. A Sunday.")
    stage("S7-b-to-c", 15, "device B reaches fs01 over SMB/RPC, a host it never talked to "
          "(chain A -> B -> C)", T["b_to_c"], APP, FS1, [445, 135, 49668],
          ["net.lateral_chain", "net.new_internal_edge", "net.admin_protocol_anomaly"],
          may=["net.sensitive_asset_access"], attack=["T1021.002", "T1569.002", "T1039"],
          evidence={"minutes_after_rdp": round((T["b_to_c"][0]["ts"] - T["rdp_pivot"][0]["ts"]) / 60, 2),
                    "path": [DEVICE_A, APP, FS1]},
          notes="Second hop 18.5 min after the first: within a 30-min fast-bridge window. The "
                "last SMB session reads ~183 MB from the share.")
    stage("S8-staging", 18, "device B pulls ~4.6 GB from the order DB (normal pair, abnormal "
          "volume)", T["staging"], APP, DB, 5432, ["net.sensitive_asset_access"],
          may=["net.exfil_volume"], attack=["T1213", "T1074.001"],
          evidence={"resp_bytes_total": sum(f["resp_bytes"] for f in T["staging"])},
          notes="B is the DB's legitimate client; its usual hourly pull is far smaller.")
    ex = T["exfil"]
    stage("S9-exfil", 18, "device B uploads ~3.4 GB to an Internet address", ex, APP, EXFIL, 443,
          ["net.exfil_volume"], may=["net.sensitive_asset_access", "net.long_connection"],
          sigma=[RULE_LARGE_UPLOAD], attack=["T1041", "T1048"],
          evidence={"orig_bytes_total": sum(f["orig_bytes"] for f in ex)},
          notes="Seven TLS uploads back to back; B's own upload baseline is a few MB per hour "
                "and it never contacted this address before.")

    def conf(cid, title, flows, src, dst, dport, must_not, suppressed_by, evidence=None, logs=("conn",)):
        flows = [f for f in flows if f.get("written", True)]
        if not flows:
            return
        e = {"flows": len(flows)}
        e.update(evidence or {})
        confs.append({"id": cid, "title": title, "window": span(flows), "src": src, "dst": dst,
                      "dport": dport, "logs": list(logs), "must_not_fire": list(must_not),
                      "suppressed_by": suppressed_by, "evidence": e})

    polls = [line for line in sc.conn if "\t%s\t443\t" % UPDATE_CDN[0] in line[2]
             or "\t%s\t443\t" % UPDATE_CDN[1] in line[2] or "\t%s\t443\t" % UPDATE_CDN[2] in line[2]]
    poll_hosts = sorted({l[2].split("\t")[2] for l in polls}, key=ipaddress.ip_address)
    internal_hosts = len(WORKSTATIONS) + len(WINDOWS_SERVERS) + len(LINUX_SERVERS) + 2
    confs.append({"id": "C1-update-polling", "title": "vendor update agent on every Windows host "
                  "polls %s hourly" % UPDATE_FQDN, "window": {"start": iso(sc.t0),
                  "end": iso(sc.t_end), "start_ts": sc.t0, "end_ts": sc.t_end},
                  "src": poll_hosts, "dst": UPDATE_CDN, "dport": 443, "logs": ["conn", "dns"],
                  "must_not_fire": ["net.beaconing"],
                  "suppressed_by": "prevalence: %d of %d internal hosts poll the same destination "
                                   "(>= 50 %%)" % (len(poll_hosts), internal_hosts),
                  "evidence": {"flows": len(polls), "hosts": len(poll_hosts),
                               "period_s": 3600, "jitter_s": 20}})
    conf("C2-jump-admin", "jump host 10.20.5.5 RDP/WinRM/SSH to servers on weekdays",
         T["jump_admin"], JUMP, "10.20.10.0/24", [22, 3389, 5985],
         ["net.admin_protocol_anomaly", "net.new_internal_edge", "auth.fanout",
          "net.lateral_chain"], "role: jump_hosts group in site.yml")
    conf("C3-vuln-scan", "weekly credentialed vulnerability scan of the server subnet from "
         "10.20.5.9 (Tuesdays 01:00)", T["vuln_scan"], SCANNER, "10.20.10.0/24", "many",
         ["net.internal_scan", "auth.bruteforce_success", "net.new_internal_edge",
          "net.admin_protocol_anomaly", "auth.fanout"],
         "site.yml allow entries for the scanners group",
         evidence={"scans": sorted({iso(f["ts"])[:10] for f in T["vuln_scan"]}),
                   "auth_failures_per_scan": 12}, logs=("conn", "auth"))
    fs2_clients = sorted({l[2].split("\t")[2] for l in sc.conn
                          if "\t%s\t445\t" % FS2 in l[2] and l[2].split("\t")[2].startswith("10.20.1.")},
                         key=ipaddress.ip_address)
    if days >= FS2_DAY:
        confs.append({"id": "C4-new-file-server", "title": "file server fs02 10.20.10.21 goes "
                      "live on day %d; departments move to it on days %s" %
                      (FS2_DAY, ", ".join(str(x[0]) for x in FS2_ROLLOUT)),
                      "window": {"start": iso(sc.at(FS2_DAY, 9)), "end": iso(sc.t_end),
                                 "start_ts": sc.at(FS2_DAY, 9), "end_ts": sc.t_end},
                      "src": "10.20.1.0/24", "dst": FS2, "dport": 445, "logs": ["conn"],
                      "must_not_fire": ["net.new_internal_edge", "net.lateral_chain"],
                      "suppressed_by": "sink: fs02 serves SMB to >= 20 distinct workstation "
                                       "clients before most first-seen edges after the learning "
                                       "period; the edges are client->server on the one service "
                                       "the server offers (one low new_host-style note is "
                                       "acceptable)",
                      "evidence": {"clients": len(fs2_clients)}})
    conf("C5-cloud-backup", "nightly off-site copy from the backup server to cloud storage",
         T["cloud_backup"], BACKUP, CLOUD_BACKUP, 443, ["net.exfil_volume", RULE_LARGE_UPLOAD],
         "backup server's own hourly upload baseline; site.yml allow entry (backup -> cloud "
         "storage) for the per-connection Sigma rule",
         evidence={"orig_bytes_total": sum(f["orig_bytes"] for f in T["cloud_backup"])})
    conf("C6-cloud-full-backup", "monthly full off-site backup: ~24.5 GB over ~6 h to the same "
         "cloud storage", T["cloud_full"], BACKUP, CLOUD_BACKUP, 443,
         ["net.exfil_volume", RULE_LARGE_UPLOAD],
         "same source, destinations and hourly rate as the nightly copies (baseline), site.yml "
         "allow entry; it is larger in total than the exfiltration",
         evidence={"orig_bytes_total": sum(f["orig_bytes"] for f in T["cloud_full"])})
    conf("C7-internal-backup", "nightly backups: servers push gigabytes to the backup server",
         T["internal_backup"], "servers", BACKUP, 9103, ["net.exfil_volume",
                                                         "net.sensitive_asset_access"],
         "internal -> internal to the backup role",
         evidence={"orig_bytes_total": sum(f["orig_bytes"] for f in T["internal_backup"])})
    conf("C8-admin-typo", "administrator kato mistypes the password twice, then logs on",
         T["admin_typo"], JUMP, DB, 22, ["auth.bruteforce_success"],
         "two failures are far below any burst threshold", logs=("conn", "auth"))
    confs.append({"id": "C9-periodic-infrastructure", "title": "DC NTP every 1024 s to an "
                  "external pool; monitoring pings 5 hosts every 30 min",
                  "window": {"start": iso(sc.t0), "end": iso(sc.t_end), "start_ts": sc.t0,
                             "end_ts": sc.t_end},
                  "src": [DC, MONITOR], "dst": NTP_EXT + [GATEWAY, DC, FS1, APP, DB],
                  "dport": [123, 0], "logs": ["conn"], "must_not_fire": ["net.beaconing"],
                  "suppressed_by": "NTP service / ICMP from the monitoring host (infrastructure)",
                  "evidence": {}})
    return {
        "schema": "flowhound.scenario.truth/1",
        "scenario": "ntt-like",
        "generator": "SampleLogs/scenario/generate_ntt.py",
        "seed": sc.seed, "start": start, "days": days, "timezone": "UTC",
        "window": {"start": iso(sc.t0), "end": iso(sc.t_end), "start_ts": sc.t0,
                   "end_ts": sc.t_end},
        "learning_period": {"days": 14, "start": iso(sc.t0), "end": iso(sc.t0 + 14 * 86400),
                            "note": "flowhound's default learning period; stages on days <= 14 "
                                    "are only expected from detectors that need no baseline"},
        "detector_names": DETECTORS,
        "network": {
            "workstations": "10.20.1.11-10.20.1.50", "it_admin_workstations": IT_ADMINS,
            "device_a": DEVICE_A, "jump_host": JUMP, "vuln_scanner": SCANNER,
            "dc": DC, "dns_resolver": DNS, "file_servers": [FS1, FS2], "print_server": PRINT,
            "order_app_device_b": APP, "order_db_srv_db": DB, "backup": BACKUP,
            "monitoring": MONITOR, "c2": C2, "exfil_destination": EXFIL,
            "cloud_backup": CLOUD_BACKUP, "update_cdn": UPDATE_CDN},
        "files": {"conn_hourly": files["conn"], "dns_hourly": files["dns"],
                  "auth": files["auth"]},
        "stages": stages,
        "confounders": confs,
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED,
                    help="seed of the background traffic (default %(default)s)")
    ap.add_argument("--out", default=os.path.join(here, "out"),
                    help="output directory (default: out/ next to this script)")
    ap.add_argument("--days", type=int, default=20, help="days of log time (default 20)")
    ap.add_argument("--start", default="2026-03-01", help="first day, UTC (default 2026-03-01)")
    args = ap.parse_args()
    if args.days < 1:
        ap.error("--days must be at least 1")
    start = dt.date.fromisoformat(args.start)

    sc = Scenario(args.seed, start, args.days)
    sc.background()
    sc.confounders()
    sc.attacks()
    sc.cron()
    os.makedirs(args.out, exist_ok=True)
    files = sc.write(args.out)
    t = truth(sc, files, start.isoformat())
    with open(os.path.join(args.out, "expected.json"), "w", newline="\n") as f:
        json.dump(t, f, indent=1, sort_keys=False)
        f.write("\n")
    total = 0
    for root, _, names in os.walk(args.out):
        for n in names:
            total += os.path.getsize(os.path.join(root, n))
    print("%s: %d conn files, %d dns files, %d auth files, %d conn records, %d dns records, "
          "%d auth lines, %.2f MB" % (args.out, files["conn"], files["dns"], len(files["auth"]),
                                      len(sc.conn), len(sc.dns), len(sc.auth), total / 1e6))


if __name__ == "__main__":
    main()
