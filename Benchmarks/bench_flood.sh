#!/usr/bin/env bash
# bench_flood.sh — peak memory of `flowhound scan` under a flood of distinct internal source/destination pairs.
#
# Never run by the unit tests (they prove the caps and eviction counters on smaller counts). Streams PAIRS Zeek
# conn records (established SMB sessions, 4,096 sources × PAIRS/4,096 destinations, every pair once, 1 ms
# apart) from a generator straight into `flowhound scan -` with the bundled rules (Sigma rules, correlation and
# the 14 behavioural detectors) and reports the wall time, lines/s and peak RSS from /usr/bin/time -v. The edge
# table of new_internal_edge is capped (max_keys, default 2,000,000) and every other detector's keyed state at
# max_keys (default 100,000), so peak RSS must stay flat however large PAIRS is.
#
# Environment knobs (all optional):
#   PAIRS=10000000     distinct (source, destination) pairs
#   BUILD=1            0 = skip `swift build -c release`
#   FLOWHOUND=...      the binary (default: .build/release/flowhound)
#   RULES=Rules        rules passed to --rules
set -euo pipefail

# shellcheck source=Benchmarks/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_start "${BASH_SOURCE[0]}" "$@"

PAIRS=${PAIRS:-10000000}
BUILD=${BUILD:-1}
FLOWHOUND=${FLOWHOUND:-$REPO/.build/release/flowhound}
RULES=${RULES:-$REPO/Rules}

die() { echo "bench_flood.sh: error: $*" >&2; exit 2; }
[[ "$PAIRS" =~ ^[0-9]+$ ]] && (( PAIRS >= 4096 )) || die "PAIRS must be an integer >= 4096"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) not found: apt-get install time"
if [[ "$BUILD" != 0 ]]; then swift build -c release >&2 || die "swift build -c release failed"; fi
[[ -x "$FLOWHOUND" ]] || die "flowhound binary not found at $FLOWHOUND"

gen() {
    python3 - "$PAIRS" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout
out.write("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
          "#open\t2026-03-02-00-00-00\n"
          "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes"
          "\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes"
          "\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n"
          "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool"
          "\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n")
t0 = 1772409600_000  # ms
buf = []
for i in range(n):
    src = "10.0.%d.%d" % ((i & 4095) >> 8, i & 255)
    d = i >> 12
    dst = "10.%d.%d.%d" % (16 + (d >> 16), (d >> 8) & 255, d & 255)
    t = t0 + i
    buf.append("%d.%03d000\tC%d\t%s\t%d\t%s\t445\ttcp\tsmb\t0.500000\t300\t300\tSF\tT\tT\t0\tShADadFf\t5\t500\t5\t500\t-\n"
               % (t // 1000, t % 1000, i, src, 40000 + (i & 16383), dst))
    if len(buf) == 10000:
        out.write("".join(buf)); buf.clear()
out.write("".join(buf))
PY
}

echo "== flowhound scan -: $PAIRS distinct pairs through $RULES (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
set +e
gen | /usr/bin/time -v "$FLOWHOUND" scan --rules "$RULES" --alert-format json --output /dev/null - 2> "${TMPDIR:-/tmp}/bench_flood.time"
status=$?
set -e
(( status <= 1 )) || { cat "${TMPDIR:-/tmp}/bench_flood.time" >&2; die "flowhound exited $status"; }
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "${TMPDIR:-/tmp}/bench_flood.time")
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "${TMPDIR:-/tmp}/bench_flood.time")
grep '^flowhound:' "${TMPDIR:-/tmp}/bench_flood.time" >&2 || true
echo "pairs $PAIRS  wall $wall  peak RSS $((rss / 1024)) MiB"
