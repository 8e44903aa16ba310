#!/usr/bin/env bash
# bench_sshd_sec.sh — flowhound vs SEC (Simple Event Correlator) on the sshd brute-force workload of
# ../shared/reference/peers.md §2: ">= 5 'Failed password' from one source IP within 60 s".
#
# Never run by the unit tests. Installs nothing: needs `sec` on PATH (Debian: apt-get install -y sec),
# python3, and a release build of flowhound (swift build -c release). See Benchmarks/README.md.
#
# Environment knobs (all optional):
#   SIZE_MB=200        size of the generated sshd log in MiB (shrink it if SEC is too slow here;
#                      the peers.md numbers are for 200)
#   SEED=1             gen_sshd.py seed (seed 1 + 200 MiB = md5 cdc3bfa7deadde898c54be528ee7d963)
#   ROUNDS=3           timed rounds; every round runs SEC and flowhound once, interleaved
#   WARMUP=1           1 = one untimed warm-up round first, 0 = none
#   GEN_SSHD=...       path to gen_sshd.py (default: ../shared/tools/gen_sshd.py from the repo root)
#   FLOWHOUND=...      flowhound binary (default: .build/release/flowhound)
#   SEC=...            sec binary (default: sec on PATH)
#   KEEP=0             1 = keep the last run's alert files in Benchmarks/data/sshd-bench-out/
set -euo pipefail

# shellcheck source=Benchmarks/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_start "${BASH_SOURCE[0]}" "$@"

SIZE_MB=${SIZE_MB:-200}
SEED=${SEED:-1}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-1}
GEN_SSHD=${GEN_SSHD:-$REPO/../shared/tools/gen_sshd.py}
FLOWHOUND=${FLOWHOUND:-$REPO/.build/release/flowhound}
SEC=${SEC:-$(command -v sec || true)}
KEEP=${KEEP:-0}
BENCH=$REPO/Benchmarks
DATA=$BENCH/data
SEC_CONF=$BENCH/sec/sshd_bruteforce.sec
FH_RULES=$BENCH/rules
REF=$BENCH/sshd_reference.py

die() { echo "bench_sshd_sec.sh: error: $*" >&2; exit 2; }
note() { echo "== $*" >&2; }

[[ "$SIZE_MB" =~ ^[0-9]+$ ]] && (( SIZE_MB >= 1 )) || die "SIZE_MB must be a positive integer (got '$SIZE_MB')"
[[ "$SEED" =~ ^[0-9]+$ ]] || die "SEED must be a non-negative integer"
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && (( ROUNDS >= 1 )) || die "ROUNDS must be a positive integer"
[[ -n "$SEC" && -x "$SEC" ]] || die "sec not found; install it (Debian: apt-get install -y sec) or set SEC=..."
command -v python3 >/dev/null || die "python3 not found"
[[ -x "$FLOWHOUND" ]] || die "flowhound binary not found at $FLOWHOUND (build it: swift build -c release)"
[[ -f "$GEN_SSHD" ]] || die "gen_sshd.py not found at $GEN_SSHD (set GEN_SSHD=...)"
[[ -f "$SEC_CONF" && -d "$FH_RULES" && -f "$REF" ]] || die "benchmark files missing under $BENCH"
(( SIZE_MB == 200 )) || note "SIZE_MB=$SIZE_MB: not the 200 MiB workload of peers.md; numbers are not comparable with it"

mkdir -p "$DATA"

# --- 1. data: log + truth sidecar (generator) + log-time reference counts (ours); reused --------
LOG=$DATA/sshd-${SIZE_MB}mb-s${SEED}.log
TRUTH=$LOG.truth.json
REFJSON=$LOG.ref.json
if [[ ! -s "$LOG" || ! -s "$TRUTH" ]]; then
    note "generating $LOG (${SIZE_MB} MiB, seed $SEED)"
    rm -f "$LOG.tmp" "$LOG.tmp.truth.json"
    python3 "$GEN_SSHD" --out "$LOG.tmp" --size-mb "$SIZE_MB" --seed "$SEED" >&2 || die "gen_sshd.py failed"
    mv -f "$LOG.tmp.truth.json" "$TRUTH"
    mv -f "$LOG.tmp" "$LOG"
    rm -f "$REFJSON"
else
    note "reusing $LOG"
fi
if [[ ! -s "$REFJSON" || "$LOG" -nt "$REFJSON" ]]; then
    note "log-time reference counts -> $REFJSON"
    python3 "$REF" "$LOG" > "$REFJSON.tmp" || die "sshd_reference.py failed"
    mv -f "$REFJSON.tmp" "$REFJSON"
fi
BYTES=$(stat -c %s "$LOG")
LINES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lines"])' "$TRUTH")
note "$BYTES bytes, $LINES lines"

# --- 2. timing ---------------------------------------------------------------------------------
OUT=$(mktemp -d "${TMPDIR:-/tmp}/bench-sshd.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

run_sec() { "$SEC" --conf="$SEC_CONF" --input="$LOG" --notail --nointevents > "$OUT/sec.out"; }
run_flowhound() {
    rm -f "$OUT/flowhound.json"   # --output appends
    local rc=0
    "$FLOWHOUND" scan --rules "$FH_RULES" --alert-format json --output "$OUT/flowhound.json" \
        --merge-window 0 "$LOG" 2> "$OUT/flowhound.err" || rc=$?
    (( rc == 0 || rc == 1 )) || { cat "$OUT/flowhound.err" >&2; die "flowhound exited with status $rc"; }
}

# time_one NAME -> appends "real user+sys" to TIMES[NAME]; the page cache here is evicted after ~30 s
# idle, so the input is read once (untimed) before every timed run.
declare -A REAL CPU
TIMEFORMAT='%3R %3U %3S'
time_one() {
    local name=$1 round=$2 t tr tu ts c
    cat "$LOG" > /dev/null
    t=$( { time "run_$name" 2>&3; } 3>&2 2>&1 ) || die "$name failed"
    read -r tr tu ts <<< "$t"
    c=$(awk -v u="$tu" -v s="$ts" 'BEGIN { printf "%.3f", u + s }')
    if [[ "$round" == warm-up ]]; then
        note "warm-up   $name real ${tr}s cpu ${c}s   (load $(cut -d' ' -f1-3 /proc/loadavg))"
    else
        note "round $round/$ROUNDS $name real ${tr}s cpu ${c}s   (load $(cut -d' ' -f1-3 /proc/loadavg))"
        REAL[$name]+="$tr "
        CPU[$name]+="$c "
    fi
}

NAMES=(sec flowhound)
LOADS=()
if [[ "$WARMUP" == 1 ]]; then
    for n in "${NAMES[@]}"; do time_one "$n" warm-up; done
fi
for (( r = 1; r <= ROUNDS; r++ )); do
    for n in "${NAMES[@]}"; do time_one "$n" "$r"; done
    LOADS+=("$(cut -d' ' -f1 /proc/loadavg)")
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- 3. alerts (from the last timed round) -----------------------------------------------------
grep -o 'src=[^ ]*' "$OUT/sec.out" | cut -d= -f2 > "$OUT/sec.ips" || true
python3 - "$OUT/flowhound.json" > "$OUT/flowhound.ips" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    print(d["flowhound"]["group"]["source.ip"])
PY
FH_WINDOWS=$(python3 - "$OUT/flowhound.json" <<'PY'
import json, sys
print(sum(int(json.loads(l)["flowhound"]["group"].get("correlation.windows", 0)) for l in open(sys.argv[1])))
PY
)
SEC_SCORE=$(python3 "$REF" --score "$TRUTH" "$OUT/sec.ips")
FH_SCORE=$(python3 "$REF" --score "$TRUTH" "$OUT/flowhound.ips")
if [[ "$KEEP" == 1 ]]; then
    mkdir -p "$DATA/sshd-bench-out" && cp "$OUT"/* "$DATA/sshd-bench-out/"
fi

# --- 4. report ---------------------------------------------------------------------------------
echo
echo "input: $LOG ($(awk -v b="$BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB, $LINES lines); $ROUNDS interleaved rounds, medians; load average (1 min) after each round: ${LOADS[*]}"
echo "sec:       $SEC --conf=$SEC_CONF --input=$LOG --notail --nointevents"
echo "flowhound: $FLOWHOUND scan --rules $FH_RULES --alert-format json --output <tmp> --merge-window 0 $LOG"
echo
printf '%-10s %9s %9s %12s %8s   %-24s %s\n' tool "median_s" "cpu_s" "lines/s" "MB/s" "all runs real (s)" "all runs cpu (s)"
declare -A MED MEDCPU
for n in "${NAMES[@]}"; do
    MED[$n]=$(echo "${REAL[$n]}" | median)
    MEDCPU[$n]=$(echo "${CPU[$n]}" | median)
    awk -v n="$n" -v s="${MED[$n]}" -v c="${MEDCPU[$n]}" -v b="$BYTES" -v l="$LINES" -v all="${REAL[$n]}" -v allc="${CPU[$n]}" \
        'BEGIN { printf "%-10s %9.3f %9.3f %12.0f %8.1f   %-24s %s\n", n, s, c, l / s, b / 1e6 / s, all, allc }'
done
echo
awk -v s="${MED[sec]}" -v f="${MED[flowhound]}" -v cs="${MEDCPU[sec]}" -v cf="${MEDCPU[flowhound]}" \
    'BEGIN { printf "flowhound / SEC speed ratio: %.1fx wall clock, %.1fx CPU time   (goal >= 20x)\n", s / f, cs / cf }'

echo
python3 - "$TRUTH" "$REFJSON" "$SEC_SCORE" "$FH_SCORE" "$FH_WINDOWS" "${MED[sec]}" <<'PY'
import json, sys
truth = json.load(open(sys.argv[1]))
ref = json.load(open(sys.argv[2]))
sec, fh = json.loads(sys.argv[3]), json.loads(sys.argv[4])
fh_windows, sec_wall = int(sys.argv[5]), float(sys.argv[6])
print("alerts (rule: %s; truth = %s, reference = Benchmarks/sshd_reference.py, both on log time)" % (truth["rule"], sys.argv[1].rsplit("/", 1)[-1]))
print("  %-44s %8s" % ("", "count"))
rows = [
    ("truth distinct_ips", truth["distinct_ips"]),
    ("truth alerts_sec (SEC semantics on log time)", truth["alerts_sec"]),
    ("truth alerts_reset (fire, then forget)", truth["alerts_reset"]),
    ("ref bursts (flowhound semantics)", ref["bursts"]),
    ("ref qualifying window ends", ref["qualifying_ends"]),
    ("ref IPs with >= %d failures in the whole file" % ref["thresh"], ref["ips_with_thresh_total"]),
]
for k, v in rows:
    print("  %-44s %8d" % (k, v))
print()
print("  %-10s %7s %10s %18s %10s   %s" % ("tool", "alerts", "alert IPs", "true IPs found", "FP IPs", "FP split slow/near-miss/other"))
for name, s in (("sec", sec), ("flowhound", fh)):
    print("  %-10s %7d %10d %13d/%-4d %10d   %d/%d/%d" % (name, s["alerts"], s["alerted_ips"], s["true_ips_found"],
          s["true_ips"], s["fp_ips"], s["fp_slow"], s["fp_nearmiss"], s["fp_other"]))
print()
print("how the counts relate:")
print("  flowhound %d vs ref bursts %d: %s" % (fh["alerts"], ref["bursts"],
      "equal - one finding per maximal run of qualifying window ends per IP (its documented sliding window)"
      if fh["alerts"] == ref["bursts"] else "DIFFERENT - flowhound's burst semantics do not match the reference"))
print("  flowhound correlation.windows sum %d vs ref qualifying ends %d: %s" % (fh_windows, ref["qualifying_ends"],
      "equal" if fh_windows == ref["qualifying_ends"] else "different"))
print("  flowhound vs distinct_ips %d: a campaign with pauses longer than the window gives several bursts for one IP" % truth["distinct_ips"])
print("  flowhound vs alerts_sec %d: SEC re-arms when its window (anchored at the first counted failure) ends, flowhound keeps merging while windows qualify" % truth["alerts_sec"])
print("  flowhound vs alerts_reset %d: reset semantics fire on every 5th failure of a burst, flowhound once per burst" % truth["alerts_reset"])
if sec_wall < ref["window"]:
    import datetime as dt
    span_h = (dt.datetime.fromisoformat(truth["end_utc"]) - dt.datetime.fromisoformat(truth["start"])).total_seconds() / 3600
    why = "SEC read the whole %.1f-h file in %.0f s < %d s of wall clock, so every IP with >= %d failures anywhere alerts once" % (
        span_h, sec_wall, ref["window"], ref["thresh"])
else:
    why = "SEC took %.0f s >= %d s of wall clock, so its windows cut the file into wall-clock slices; some IPs' failures fall into different slices" % (
        sec_wall, ref["window"])
print("  sec %d vs ref IPs with >= %d failures in the file %d: windows on the wall clock (time(2)), not log time; %s" % (
      sec["alerts"], ref["thresh"], ref["ips_with_thresh_total"], why))
PY
