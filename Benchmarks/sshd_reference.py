#!/usr/bin/env python3
"""Log-time reference counts for the sshd benchmark (used by bench_sshd_sec.sh).

    sshd_reference.py LOG [--window 60] [--thresh 5]          -> JSON on stdout
    sshd_reference.py --score TRUTH.json IPS.txt               -> JSON: how one tool's alerted IPs score

Counting mode reads the year-less syslog log (`Mon dd HH:MM:SS host sshd[pid]: Failed password for
[invalid user] U from IP port P ...`) and computes, on the log timestamps (whole seconds, one calendar
year assumed), for ">= THRESH failures from one IP within WINDOW s" (window [t - WINDOW, t], inclusive):

  ips_with_thresh_total   IPs with >= THRESH failures anywhere in the file: what a tool whose windows
                          run on the wall clock reports when it reads the whole file in < WINDOW s (SEC)
  qualifying_ends         failures whose window [t - WINDOW, t] holds >= THRESH failures of that IP
  qualifying_seconds      distinct (IP, second) pairs among those
  bursts                  maximal runs of consecutive qualifying failures of one IP (a failure that does
                          not qualify ends the run): flowhound's "one finding per burst"
  distinct_ips            IPs with at least one qualifying failure

Score mode compares a list of alerted IPs (one per line, repeats allowed) with the generator's truth
sidecar: alerted IPs that are true brute-force IPs, and false positives split by actor.
"""
import collections
import json
import re
import sys

MONTHS = {m: i for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])}
DAYS_BEFORE = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335]  # leap year; fine for offsets
FAIL = re.compile(rb"sshd\[\d+\]: Failed password for (?:invalid user )?\S+ from (\S+) port \d+")


def seconds(line):
    mon = MONTHS[line[0:3].decode()]
    day = int(line[4:6])
    h, m, s = int(line[7:9]), int(line[10:12]), int(line[13:15])
    return ((DAYS_BEFORE[mon] + day) * 24 + h) * 3600 + m * 60 + s


def count(path, window, thresh):
    recent = collections.defaultdict(collections.deque)  # ip -> failure times within the window
    total = collections.Counter()                          # ip -> failures in the file
    in_run = {}                                            # ip -> last failure qualified
    last_q_second = {}
    qualifying = qual_seconds = bursts = 0
    ips = set()
    with open(path, "rb") as f:
        for line in f:
            if b"Failed password" not in line:
                continue
            m = FAIL.search(line)
            if not m:
                continue
            ip = m.group(1).decode()
            t = seconds(line)
            total[ip] += 1
            dq = recent[ip]
            dq.append(t)
            while dq[0] < t - window:
                dq.popleft()
            q = len(dq) >= thresh
            if q:
                qualifying += 1
                ips.add(ip)
                if last_q_second.get(ip) != t:
                    qual_seconds += 1
                    last_q_second[ip] = t
                if not in_run.get(ip):
                    bursts += 1
            in_run[ip] = q
            if len(dq) == 1 and not q:
                # keep memory bounded: an IP with one recent failure and no open run needs no entry
                in_run.pop(ip, None)
    return {
        "window": window, "thresh": thresh,
        "failed_password": sum(total.values()),
        "ips_with_failures": len(total),
        "ips_with_thresh_total": sum(1 for n in total.values() if n >= thresh),
        "qualifying_ends": qualifying,
        "qualifying_seconds": qual_seconds,
        "bursts": bursts,
        "distinct_ips": len(ips),
    }


def score(truth_path, ips_path):
    with open(truth_path) as f:
        truth = json.load(f)
    with open(ips_path) as f:
        alerted = [l.strip() for l in f if l.strip()]
    got = set(alerted)
    brute, slow, near = set(truth["brute_ips"]), set(truth["slow_ips"]), set(truth["nearmiss_ips"])
    qual = set(truth["distinct_ips_list"])
    fp = got - qual
    return {
        "alerts": len(alerted), "alerted_ips": len(got),
        "true_ips_found": len(got & qual), "true_ips": len(qual),
        "brute_ips_found": len(got & brute), "brute_ips": len(brute),
        "fp_ips": len(fp), "fp_slow": len(fp & slow), "fp_nearmiss": len(fp & near),
        "fp_other": len(fp - slow - near),
    }


def main(argv):
    if len(argv) == 3 and argv[0] == "--score":
        print(json.dumps(score(argv[1], argv[2])))
        return 0
    args = {"--window": 60, "--thresh": 5}
    paths = []
    it = iter(argv)
    for a in it:
        if a in args:
            args[a] = int(next(it))
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            paths.append(a)
    if len(paths) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(count(paths[0], args["--window"], args["--thresh"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
