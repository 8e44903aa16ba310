#!/usr/bin/env python3
"""Check a generated NTT-like scenario against its expected.json, reading only the log files.

Recounts every planted stage from the Zeek and sshd files (not from the generator's memory),
compares with the evidence recorded in expected.json, and checks the confounders and the file
layout.  Exit status 0 when every check passes, 1 otherwise (each failure is printed).

  python3 SampleLogs/scenario/check.py [OUT]        # default: out/ next to this script
"""

import datetime as dt
import gzip
import ipaddress
import json
import os
import re
import sys
from collections import defaultdict

A, B, C, DB, DNS, FS2 = "10.20.1.23", "10.20.10.40", "10.20.10.20", "10.20.10.50", "10.20.10.11", "10.20.10.21"
C2, EXFIL, SCANNER, JUMP = "198.51.100.145", "203.0.113.50", "10.20.5.9", "10.20.5.5"
WS_NET = ipaddress.ip_network("10.20.1.0/24")
PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
PROBE = ("S", "Sr", "ShR")          # unanswered, rejected, half-open (no payload)
ADMIN = {22, 23, 135, 139, 445, 3389, 5900, 5985, 5986}
SIGMA_REJ_PORTS = {22, 23, 135, 139, 445, 1433, 1521, 3306, 3389, 5432, 5900, 5985, 5986}

failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def ws(h):
    return ":" not in h and ipaddress.ip_address(h) in WS_NET


def private(h):
    if ":" in h:
        return True
    a = ipaddress.ip_address(h)
    return any(a in n for n in PRIVATE)


def zeek_files(out, kind):
    root = os.path.join(out, "zeek")
    for day in sorted(os.listdir(root)):
        for name in sorted(os.listdir(os.path.join(root, day))):
            if name.startswith(kind + "."):
                yield day, name, os.path.join(root, day, name)


def read_zeek(out, kind, expect_fields):
    recs, bad = [], []
    for day, name, path in zeek_files(out, kind):
        m = re.fullmatch(kind + r"\.(\d\d):00:00-(\d\d):00:00\.log\.gz", name)
        if not m or (int(m.group(1)) + 1) % 24 != int(m.group(2)):
            bad.append(name)
            continue
        with open(path, "rb") as f:
            if f.read(2) != b"\x1f\x8b":
                bad.append(path + ": not gzip")
        lines = gzip.open(path, "rt").read().split("\n")
        if lines[-1] != "" or not lines[-2].startswith("#close\t"):
            bad.append(path + ": no #close")
        head = lines[:8]
        if head[0] != "#separator \\x09" or head[4] != "#path\t" + kind \
                or head[6].split("\t")[1:] != expect_fields:
            bad.append(path + ": header")
        opened = dt.datetime.strptime(day + m.group(1), "%Y-%m-%d%H").replace(
            tzinfo=dt.timezone.utc).timestamp()
        if head[5] != "#open\t" + dt.datetime.fromtimestamp(opened, dt.timezone.utc).strftime(
                "%Y-%m-%d-%H-%M-%S"):
            bad.append(path + ": #open")
        for ln in lines[8:-2]:
            v = ln.split("\t")
            if len(v) != len(expect_fields):
                bad.append(path + ": field count")
                break
            rec = dict(zip(expect_fields, v))
            rec["_file"], rec["_open"] = path, opened
            recs.append(rec)
    return recs, bad


def num(v):
    return 0 if v == "-" else float(v)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "out")
    truth = json.load(open(os.path.join(out, "expected.json")))
    st = {s["id"]: s for s in truth["stages"]}
    cf = {c["id"]: c for c in truth["confounders"]}
    t0, t_end, days = truth["window"]["start_ts"], truth["window"]["end_ts"], truth["days"]

    from generate_ntt import CONN_FIELDS, DNS_FIELDS   # field lists only
    conn, bad = read_zeek(out, "conn", CONN_FIELDS)
    dns, bad2 = read_zeek(out, "dns", DNS_FIELDS)
    check(not bad and not bad2, "Zeek files: names, gzip magic, headers, #open, #close, field "
          "counts (%d conn, %d dns records) %s" % (len(conn), len(dns), (bad + bad2)[:3]))
    n_conn_files = sum(1 for _ in zeek_files(out, "conn"))
    check(n_conn_files == days * 24 == truth["files"]["conn_hourly"],
          "one conn file per hour: %d" % n_conn_files)
    for r in conn:
        r["ts"] = float(r["ts"])
        r["dur"] = num(r["duration"])
        r["ob"], r["rb"] = int(num(r["orig_bytes"])), int(num(r["resp_bytes"]))
        r["dport"] = int(r["id.resp_p"])
        r["src"], r["dst"] = r["id.orig_h"], r["id.resp_h"]
    misplaced = [r for r in conn if not (r["_open"] - 2 <= r["ts"] + r["dur"] < r["_open"] + 3600)]
    check(not misplaced, "every conn record sits in the file open when it ended (%d misplaced)"
          % len(misplaced))
    uids = [r["uid"] for r in conn]
    check(len(set(uids)) == len(uids), "conn uids unique")
    conn_uids = {r["uid"]: r for r in conn}
    check(all(d["uid"] in conn_uids and conn_uids[d["uid"]]["dport"] == 53 for d in dns),
          "every dns.log record has its conn record (same uid, port 53)")
    size = sum(os.path.getsize(os.path.join(p, n)) for p, _, ns in os.walk(out) for n in ns)
    biggest = max(os.path.getsize(os.path.join(p, n)) for p, _, ns in os.walk(out) for n in ns)
    check(size < 5_000_000 * max(days, 20) / 20 and biggest < 1_000_000,
          "size: total %.2f MB (< 5 MB per 20 days), largest file %.0f KB" % (size / 1e6, biggest / 1e3))

    def flows(src=None, dst=None, dport=None, lo=None, hi=None):
        return [r for r in conn if (src is None or r["src"] == src) and (dst is None or r["dst"] == dst)
                and (dport is None or r["dport"] == dport) and (lo is None or r["ts"] >= lo)
                and (hi is None or r["ts"] <= hi)]

    def win(s):
        return st[s]["window"]["start_ts"] - 0.001, st[s]["window"]["end_ts"] + 0.001

    # ---------------------------------------------------------------- sshd log
    auth_dir = os.path.join(out, "syslog", "srv-db")
    auth = []
    line_re = re.compile(r"^([A-Z][a-z]{2}) ([ 1-3]\d) (\d\d:\d\d:\d\d) srv-db "
                         r"(sshd|CRON|sudo|systemd-logind)(\[\d+\])?: (.*)$")
    year = int(truth["start"][:4])
    ok_fmt = True
    for g in reversed(truth["files"]["auth"]):               # oldest generation first
        path = os.path.join(auth_dir, g["name"])
        raw = open(path, "rb").read()
        is_gz = raw[:2] == b"\x1f\x8b"
        ok_fmt &= is_gz == g["name"].endswith(".gz")
        text = gzip.decompress(raw).decode() if is_gz else raw.decode()
        lo = dt.datetime.strptime(g["covers"][0][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc).timestamp()
        hi = dt.datetime.strptime(g["covers"][1][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.timezone.utc).timestamp()
        for ln in text.splitlines():
            m = line_re.match(ln)
            if not m:
                ok_fmt = False
                continue
            t = dt.datetime.strptime("%d %s %s %s" % (year, m.group(1), m.group(2).strip(), m.group(3)),
                                     "%Y %b %d %H:%M:%S").replace(tzinfo=dt.timezone.utc).timestamp()
            ok_fmt &= lo <= t < hi
            auth.append((t, g["name"], m.group(6)))
    check(ok_fmt, "auth files: RFC 3164 lines, .gz exactly for .N.gz (N >= 2), each generation "
          "inside its rotation interval")
    check([g["name"] for g in truth["files"]["auth"]][:4] ==
          ["auth.log", "auth.log.1", "auth.log.2.gz", "auth.log.3.gz"][:len(truth["files"]["auth"])],
          "Debian rotation names: %s" % ", ".join(g["name"] for g in truth["files"]["auth"]))
    check(all(x[0] <= y[0] for x, y in zip(auth, auth[1:])), "auth lines in time order across "
          "generations (%d lines)" % len(auth))

    # ---------------------------------------------------------------- stages
    if "S1-beacon" in st:
        b = sorted(flows(A, C2, 443), key=lambda r: r["ts"])
        gaps = [y["ts"] - x["ts"] for x, y in zip(b, b[1:])]
        check(len(b) == st["S1-beacon"]["evidence"]["flows"], "S1 beacon: %d flows A->C2:443"
              % len(b))
        check(gaps and 54 <= min(gaps) and max(gaps) <= 66 and abs(sum(gaps) / len(gaps) - 60) < 0.5,
              "S1 beacon: intervals %.2f..%.2f s, mean %.3f s" % (min(gaps), max(gaps), sum(gaps) / len(gaps)))
        per_day = defaultdict(int)
        for r in b:
            per_day[int((r["ts"] - t0) // 86400) + 1] += 1
        full = [per_day[d] for d in range(9, days + 1)]
        check(all(1420 <= n <= 1460 for n in full), "S1 beacon: %s check-ins per full day"
              % sorted(set(full))[:3])
        check(not flows(dst=C2, lo=None, hi=b[0]["ts"] - 1) and
              {r["src"] for r in flows(dst=C2)} == {A}, "S1 beacon: only device A, nothing earlier")
    if "S2-internal-scan" in st:
        lo, hi = win("S2-internal-scan")
        sc = flows(A, lo=lo, hi=hi)
        sc = [r for r in sc if r["dst"].startswith("10.20.10.") and r["history"] in PROBE]
        fail = [r for r in sc if r["conn_state"] in ("S0", "REJ")]
        day9 = [r for r in flows(A, lo=t0 + 8 * 86400, hi=t0 + 9 * 86400)
                if r["conn_state"] in ("S0", "REJ") and private(r["dst"])]
        check(len(sc) == st["S2-internal-scan"]["evidence"]["flows"] and
              len(fail) == len(day9), "S2 scan: %d probes; %d internal S0/REJ from device A on day 9 "
              "(%d S0, %d REJ), all inside the scan" % (len(sc), len(day9),
                                                sum(r["conn_state"] == "S0" for r in day9),
                                                sum(r["conn_state"] == "REJ" for r in day9)))
        uniq = {(r["dst"], r["dport"]) for r in fail}
        check(len(uniq) >= 100 and len(uniq) == st["S2-internal-scan"]["evidence"]["failed_unique_dst_port"],
              "S2 scan: %d unique failed (dst, port) >= 100 (internal threshold)" % len(uniq))
        best = 0
        adm = sorted((r for r in sc if r["dport"] in ADMIN), key=lambda r: r["ts"])
        for i, r in enumerate(adm):
            w = [x for x in adm[i:] if x["ts"] <= r["ts"] + 600]
            if sum(x["conn_state"] in ("S0", "REJ") for x in w) >= 0.5 * len(w):
                best = max(best, len({x["dst"] for x in w}))
        check(best >= 20, "S2 scan: %d distinct dsts on admin ports within 10 min (>= 20, >= 50%% "
              "failed)" % best)
        check(not [r for r in sc if r["dport"] == 3389], "S2 scan: never probes 3389")
    if "S3-ssh-bruteforce" in st:
        fails = [(t, f, m) for t, f, m in auth if "Failed password" in m and "from %s " % A in m]
        acc = [(t, f, m) for t, f, m in auth if m.startswith("Accepted") and "from %s " % A in m]
        ev = st["S3-ssh-bruteforce"]["evidence"]
        check(30 <= len(fails) <= 60 and len(fails) == ev["failed_password_lines"],
              "S3 brute force: %d 'Failed password' lines from device A" % len(fails))
        check(len(acc) == 1 and "Accepted password for dbadmin" in acc[0][2] and
              0 < acc[0][0] - fails[-1][0] <= 1800 and fails[-1][0] - fails[0][0] <= 1800,
              "S3 brute force: failures within 30 min, then 'Accepted password for dbadmin' "
              "%.1f min after the last one (%s)" % ((acc[0][0] - fails[-1][0]) / 60, acc[0][1]))
        check(acc[0][1] == ev["auth_file"].rsplit("/", 1)[1], "S3 brute force: success in %s"
              % ev["auth_file"])
        ssh = [r for r in flows(A, DB, 22) if r["history"] not in PROBE]
        check(len(ssh) == st["S3-ssh-bruteforce"]["evidence"]["flows"] and all(
            lo - 5 <= r["ts"] <= hi for r in ssh for lo, hi in [win("S3-ssh-bruteforce")]),
            "S3 brute force: %d matching SSH flows A->srv-db:22 in conn, none elsewhere" % len(ssh))
    if "S4-db-direct" in st:
        direct = [r for r in conn if ws(r["src"]) and r["dst"] == DB and r["dport"] in (1433, 5432)
                  and r["ob"] > 0]
        lo, hi = win("S4-db-direct")
        check(len(direct) == 3 and all(r["src"] == A and lo <= r["ts"] <= hi for r in direct),
              "S4 DB direct: the only workstation->DB sessions are device A's 3 on day 12")
        clients = {r["src"] for r in conn if r["dst"] == DB and r["dport"] == 5432 and r["ob"] > 0}
        check(clients == {A, B}, "S4 DB direct: PostgreSQL clients of the DB are %s"
              % sorted(clients))
    if "S5-dns-tunnel" in st:
        tun = [d for d in dns if d["id.orig_h"] == A and d["query"].endswith(".t.cloudsync-metrics.example")]
        names = {d["query"] for d in tun}
        labels = [len(d["query"].split(".")[0]) for d in tun]
        check(len(tun) == st["S5-dns-tunnel"]["evidence"]["queries"] and len(names) == len(tun)
              and all(d["qtype_name"] == "TXT" for d in tun) and min(labels) >= 44,
              "S5 DNS tunnel: %d unique TXT names from device A, first labels %d-%d chars"
              % (len(names), min(labels), max(labels)))
        other = {d["id.orig_h"] for d in dns if "cloudsync-metrics" in d["query"]}
        check(other <= {A, DNS}, "S5 DNS tunnel: only device A (and the resolver forwarding)")
        ts = sorted(float(d["ts"]) for d in tun)
        per5 = max(sum(1 for y in ts[i:] if y < x + 300) for i, x in enumerate(ts))
        check(per5 >= 25, "S5 DNS tunnel: %d queries in a 5-min window (>= 25)" % per5)
    if "S6-rdp-pivot" in st:
        rdp = flows(A, B, 3389)
        lo, hi = win("S6-rdp-pivot")
        check(len(rdp) == 1 and rdp[0]["ob"] > 0 and lo <= rdp[0]["ts"] <= hi,
              "S6 RDP pivot: the single A->B:3389 flow in the data is the day-15 session (%d s)"
              % rdp[0]["dur"])
        before = [r for r in flows(A, B) if r["ts"] < lo and r["dport"] != 443
                  and r["history"] not in PROBE]
        check(not before, "S6 RDP pivot: before it, device A only used B's HTTPS, apart from "
              "the day-9 probes (%d other flows)" % len(before))
    if "S7-b-to-c" in st:
        bc = flows(B, C)
        lo, hi = win("S7-b-to-c")
        check(bc and all(lo <= r["ts"] <= hi for r in bc) and
              sorted({r["dport"] for r in bc}) == [135, 445, 49668],
              "S7 B->C: %d flows B->fs01, all in the stage window, ports 445/135/49668" % len(bc))
        check(0 < bc[0]["ts"] - flows(A, B, 3389)[0]["ts"] <= 1800 if bc else False,
              "S7 B->C: second hop within 30 min of the RDP logon")
        b_dsts_before = {r["dst"] for r in conn if r["src"] == B and r["ts"] < lo and private(r["dst"])}
        check(C not in b_dsts_before, "S7 B->C: B never contacted fs01 before (B's internal peers "
              "before: %s)" % sorted(b_dsts_before))
    if "S8-staging" in st:
        hourly = defaultdict(int)
        for r in flows(B, DB, 5432):
            hourly[int(r["ts"] // 3600)] += r["rb"]
        lo, hi = win("S8-staging")
        peak_before = max(v for h, v in hourly.items() if h * 3600 < lo - 3600)
        stage_bytes = sum(conn_uids[u]["rb"] for u in st["S8-staging"]["uids"])
        check(stage_bytes == st["S8-staging"]["evidence"]["resp_bytes_total"] and
              stage_bytes > 10 * peak_before, "S8 staging: B pulled %.2f GB from the DB; its "
              "busiest hour before: %.0f MB" % (stage_bytes / 1e9, peak_before / 1e6))
    if "S9-exfil" in st:
        lo, hi = win("S9-exfil")
        ex = flows(B, EXFIL)
        up = defaultdict(int)
        for r in conn:
            if r["src"] == B and not private(r["dst"]) and r["ts"] < lo:
                up[int(r["ts"] // 3600)] += r["ob"]
        check(sum(r["ob"] for r in ex) == st["S9-exfil"]["evidence"]["orig_bytes_total"] and
              all(lo <= r["ts"] <= hi for r in ex) and max(up.values()) < 100e6,
              "S9 exfil: %.2f GB B->203.0.113.50 in %d flows; B's largest hourly upload before: "
              "%.2f MB" % (sum(r["ob"] for r in ex) / 1e9, len(ex), max(up.values()) / 1e6))

    # ---------------------------------------------------------------- confounders
    hosts = {r["src"] for r in conn if private(r["src"]) and ":" not in r["src"]}
    if "C1-update-polling" in cf:
        cdn = set(cf["C1-update-polling"]["dst"])
        by = defaultdict(list)
        for r in conn:
            if r["dst"] in cdn:
                by[r["src"]].append(r["ts"])
        check(len(by) >= 0.5 * len(hosts), "C1 update polling: %d of %d internal hosts"
              % (len(by), len(hosts)))
        srv = sorted(by[B])
        g = [y - x for x, y in zip(srv, srv[1:])]
        check(g and 3540 <= min(g) and max(g) <= 3660, "C1 update polling: device B every %.0f-%.0f s"
              % (min(g), max(g)))
    if "C3-vuln-scan" in cf:
        days_seen = sorted({dt.datetime.fromtimestamp(r["ts"], dt.timezone.utc).strftime("%a %Y-%m-%d")
                            for r in conn if r["src"] == SCANNER})
        check(days_seen and all(d.startswith("Tue") for d in days_seen),
              "C3 vuln scan: scanner active on %s" % ", ".join(days_seen))
        per = [sum(1 for r in conn if r["src"] == SCANNER and d[4:] in r["_file"]) for d in days_seen]
        check(min(per) > 1000, "C3 vuln scan: %s flows per scan" % per)
        sf = [m for t, f, m in auth if "from %s " % SCANNER in m and "Failed password" in m]
        check(len(sf) == 12 * len(days_seen), "C3 vuln scan: %d sshd failures from the scanner "
              "(12 per scan, then publickey)" % len(sf))
    if "C4-new-file-server" in cf:
        live = cf["C4-new-file-server"]["window"]["start_ts"]
        early = [r for r in conn if r["dst"] == FS2 and r["ts"] < live and int(r["resp_pkts"])]
        cl = {r["src"] for r in conn if r["dst"] == FS2 and r["dport"] == 445 and ws(r["src"])}
        check(not early and len(cl) >= 20, "C4 fs02: no answered flow before it went live; %d "
              "workstation clients" % len(cl))
    if "C6-cloud-full-backup" in cf:
        up = defaultdict(int)
        full_lo = cf["C6-cloud-full-backup"]["window"]["start_ts"]
        full_hi = cf["C6-cloud-full-backup"]["window"]["end_ts"]
        for r in conn:
            if r["src"] == "10.20.10.60" and r["dst"] in cf["C6-cloud-full-backup"]["dst"]:
                up[int(r["ts"] // 3600)] += r["ob"]
        nightly = max(v for h, v in up.items() if not (full_lo - 3600 <= h * 3600 <= full_hi))
        full = max(v for h, v in up.items() if full_lo - 3600 <= h * 3600 <= full_hi)
        total = sum(v for h, v in up.items() if full_lo - 3600 <= h * 3600 <= full_hi)
        check(full <= 3 * nightly and total > st.get("S9-exfil", {}).get("evidence", {}).get(
            "orig_bytes_total", 0), "C6 full backup: %.1f GB total, peak hour %.2f GB vs nightly "
            "peak hour %.2f GB" % (total / 1e9, full / 1e9, nightly / 1e9))
    if "C8-admin-typo" in cf:
        k = [m for t, f, m in auth if "for kato " in m]
        n = cf["C8-admin-typo"]["evidence"]["flows"]
        check(sum("Failed" in m for m in k) == 2 * n and sum("Accepted" in m for m in k) == n,
              "C8 typo: kato fails twice then logs on, per occurrence")

    # ---------------------------------------------------------------- Sigma rules (Rules/flowhound/zeek)
    stage_uid = {r["uid"]: "S1-beacon" for r in conn if r["dst"] == C2}
    for s in truth["stages"]:
        for u in s["uids"] or []:
            stage_uid[u] = s["id"]
    check(all(u in conn_uids for s in truth["stages"] if s["id"] != "S5-dns-tunnel"
              for u in s["uids"] or []), "every stage uid of expected.json is in the conn logs")
    rules = {
        "2e171588 large upload": lambda r: private(r["src"]) and r["ob"] >= 100_000_000 and not private(r["dst"]),
        "69595a53 workstation RDP": lambda r: r["proto"] == "tcp" and ws(r["src"]) and r["dport"] == 3389
        and private(r["dst"]) and r["ob"] > 0 and r["dst"] != JUMP
        and r["conn_state"] in ("SF", "S1", "S2", "S3", "RSTO", "RSTR"),
        "40c43109 workstation REJ admin": lambda r: r["proto"] == "tcp" and r["conn_state"] == "REJ"
        and ws(r["src"]) and private(r["dst"]) and r["dport"] in SIGMA_REJ_PORTS,
        "2048a8a1 workstation to DB": lambda r: r["proto"] == "tcp" and ws(r["src"]) and r["dst"] == DB
        and r["dport"] in (1433, 5432) and r["ob"] > 0,
        "577768ce workstation to workstation": lambda r: r["proto"] == "tcp" and ws(r["src"])
        and ws(r["dst"]) and r["dport"] in (135, 139, 445, 5985, 5986),
    }
    for name, f in rules.items():
        hits = [r for r in conn if f(r)]
        where = defaultdict(int)
        for r in hits:
            where[stage_uid.get(r["uid"]) or ("backup->cloud" if r["src"] == "10.20.10.60" else "background")] += 1
        check("background" not in where, "Sigma %s: %s" % (name, dict(sorted(where.items())) or "no matches"))

    print("\n%d checks failed" % len(failures) if failures else "\nall checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.dont_write_bytecode = True          # no __pycache__ next to the committed files
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
