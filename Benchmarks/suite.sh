#!/usr/bin/env bash
# suite.sh — the P7 benchmark suite: every speed/scale figure of issue #8 in one run, each as a ratio
# against a baseline measured in the same sitting (interleaved rounds, medians).
#
# Never run by the unit tests. Sections (SECTIONS, space separated, default all):
#   gz     .gz Zeek conn scan vs `zcat > /dev/null`: ISA-L build and zlib-only build, --jobs 1 and default
#   plain  plain Zeek TSV conn, 20 Sigma rules (Rules/flowhound/zeek + Benchmarks/rules-conn20), lines/s
#   json   Zeek JSON conn, same rules, lines/s
#   jobs   two files on two cores vs one: --jobs 2 vs --jobs 1 on the same two plain files
#   sshd   the sshd brute-force workload vs SEC (runs Benchmarks/bench_sshd_sec.sh)
#   sigma  SigmaHQ rules vs the pySigma oracle (runs Scripts/sigma_differential.py --bench)
#   rss    peak RSS (/usr/bin/time -v) of a scan of one Zeek TSV file of at least RSS_GB GB (10^9 bytes),
#          generated with gen_conn (its own seed, one continuous log-time stream) and deleted afterwards
#          (KEEP_RSS=1 keeps it); needs that much free disk space under Benchmarks/data
# The 1-minute load average is printed before every section: the machine may be shared.
#
# Environment knobs (all optional):
#   SIZE_MB=600        size of each generated conn log in MiB (TSV; the JSON one is generated at the same size)
#   ROUNDS=3           timed rounds per command (after one untimed warm-up round)
#   SEED=1             gen_conn seed; the second file of `jobs` uses SEED+1
#   BUILD=1            0 = use existing binaries; 1 = `swift build -c release` (ISA-L when libisal-dev is
#                      installed) and a zlib-only release build in .build-zlib (FLOWHOUND_ZLIB_ONLY=1)
#   SCRATCH=.build     scratch path of the release build (BUILD=1 builds there; e.g. SCRATCH=.build-rel)
#   FLOWHOUND=...      default build (default $SCRATCH/release/flowhound)
#   FLOWHOUND_ZLIB=... zlib-only build (default .build-zlib/release/flowhound; skipped if missing and BUILD=0)
#   RSS_GB=10          size streamed by `rss`
#   SSHD_SIZE_MB=200   SIZE_MB passed to bench_sshd_sec.sh;  SIGMA_SIZE_MB=1100 --bench-size-mb of sigma
#   GEN_CONN_SRC=...   gen_conn.c (default ../shared/tools/gen_conn.c)
set -euo pipefail

# shellcheck source=Benchmarks/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_start "${BASH_SOURCE[0]}" "$@"

SECTIONS=${SECTIONS:-gz plain json jobs sshd sigma rss}
SIZE_MB=${SIZE_MB:-600}
ROUNDS=${ROUNDS:-3}
SEED=${SEED:-1}
BUILD=${BUILD:-1}
SCRATCH=${SCRATCH:-.build}
[[ "$SCRATCH" == /* ]] || SCRATCH=$REPO/$SCRATCH
FLOWHOUND=${FLOWHOUND:-$SCRATCH/release/flowhound}
FLOWHOUND_ZLIB=${FLOWHOUND_ZLIB:-$REPO/.build-zlib/release/flowhound}
RSS_GB=${RSS_GB:-10}
SSHD_SIZE_MB=${SSHD_SIZE_MB:-200}
SIGMA_SIZE_MB=${SIGMA_SIZE_MB:-1100}
GEN_CONN_SRC=${GEN_CONN_SRC:-$REPO/../shared/tools/gen_conn.c}
DATA=$REPO/Benchmarks/data
RULES=(--rules "$REPO/Rules/flowhound/zeek" --rules "$REPO/Benchmarks/rules-conn20")

die() { echo "suite.sh: error: $*" >&2; exit 2; }
note() { echo "== $*" >&2; }
has() { [[ " $SECTIONS " == *" $1 "* ]]; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
section() { echo; echo "### $1   (load average before: $(load))"; }

[[ "$SIZE_MB" =~ ^[0-9]+$ ]] && (( SIZE_MB >= 10 )) || die "SIZE_MB must be an integer >= 10"
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && (( ROUNDS >= 1 )) || die "ROUNDS must be a positive integer"
CC=${CC:-$(command -v cc || command -v gcc || true)}
[[ -n "$CC" ]] || die "no C compiler for gen_conn"
[[ -f "$GEN_CONN_SRC" ]] || die "gen_conn.c not found at $GEN_CONN_SRC (set GEN_CONN_SRC=...)"
mkdir -p "$DATA"

# --- builds -------------------------------------------------------------------------------------
if [[ "$BUILD" != 0 ]]; then
    note "swift build -c release (default decoder: ISA-L if /usr/include/isa-l/igzip_lib.h exists)"
    swift build -c release --scratch-path "$SCRATCH" >&2 || die "release build failed"
    note "FLOWHOUND_ZLIB_ONLY=1 swift build -c release --scratch-path .build-zlib"
    FLOWHOUND_ZLIB_ONLY=1 swift build -c release --scratch-path "$REPO/.build-zlib" >&2 || die "zlib-only build failed"
fi
[[ -x "$FLOWHOUND" ]] || die "no flowhound binary at $FLOWHOUND (swift build -c release, or BUILD=1)"
[[ -x "$FLOWHOUND_ZLIB" ]] || { note "no zlib-only build at $FLOWHOUND_ZLIB: the gz section uses FLOWHOUND_INFLATER=zlib"; FLOWHOUND_ZLIB=; }

# --- data -----------------------------------------------------------------------------------------
GEN=$DATA/gen_conn
if [[ ! -x "$GEN" || "$GEN_CONN_SRC" -nt "$GEN" ]]; then
    "$CC" -O2 -o "$GEN.tmp" "$GEN_CONN_SRC" -lm || die "compiling gen_conn failed"
    mv -f "$GEN.tmp" "$GEN"
fi
# make_conn SEED -> sets LOG/JSON for that seed (written through temp names, reused when present)
make_conn() {
    local s=$1
    LOG=$DATA/conn-${SIZE_MB}mb-s$s.log
    JSON=$DATA/conn-${SIZE_MB}mb-s$s.json
    if [[ ! -s "$LOG" || ! -s "$JSON" ]]; then
        note "generating $LOG and $JSON"
        "$GEN" --tsv "$LOG.tmp" --json "$JSON.tmp" --size-mb "$SIZE_MB" --seed "$s" || die "gen_conn failed"
        mv -f "$LOG.tmp" "$LOG"
        mv -f "$JSON.tmp" "$JSON"
        rm -f "$LOG.gz"
    fi
    if [[ ! -s "$LOG.gz" || "$LOG" -nt "$LOG.gz" ]]; then
        note "gzip -6 $LOG"
        gzip -6 -c "$LOG" > "$LOG.gz.tmp" && mv -f "$LOG.gz.tmp" "$LOG.gz"
    fi
}
make_conn "$SEED"
LOG1=$LOG JSON1=$JSON GZ1=$LOG.gz
RECORDS=$(grep -vc '^#' "$LOG1")
JSON_RECORDS=$(wc -l < "$JSON1")
BYTES=$(stat -c %s "$LOG1")
note "plain $BYTES bytes, $RECORDS records; json $(stat -c %s "$JSON1") bytes, $JSON_RECORDS records"

# --- timing ---------------------------------------------------------------------------------------
# Every command is preceded (untimed) by `cat INPUTS > /dev/null`: this machine's page cache evicts idle
# pages after ~30 s (perf.md §2). flowhound exits 1 when it found something: accepted.
now() { date +%s.%N; }
declare -A CMD INPUTS TIMES MED
run_rounds() {   # NAMES... (CMD[name] is a shell snippet, INPUTS[name] the files to pre-read)
    local r n t0 t1 rc
    for (( r = 0; r <= ROUNDS; r++ )); do
        for n in "$@"; do
            # shellcheck disable=SC2086
            cat ${INPUTS[$n]} > /dev/null
            t0=$(now); rc=0
            bash -c "${CMD[$n]}" > /dev/null 2> "$DATA/suite-$n.err" || rc=$?
            t1=$(now)
            (( rc == 0 || rc == 1 )) || die "$n exited with $rc: $(tail -3 "$DATA/suite-$n.err")"
            t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
            if (( r == 0 )); then note "warm-up $n ${t}s"; else note "round $r $n ${t}s (load $(load))"; TIMES[$n]+="$t "; fi
        done
    done
    for n in "$@"; do
        MED[$n]=$(echo "${TIMES[$n]}" | tr ' ' '\n' | grep . | sort -g |
            awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    done
}
row() {   # NAME RECORDS BYTES BASELINE_NAME(optional)
    awk -v n="$1" -v s="${MED[$1]}" -v l="$2" -v b="$3" -v z="${4:+${MED[$4]}}" -v all="${TIMES[$1]}" 'BEGIN {
        printf "%-28s %8.3f s %8.1f MB/s %6.2f M lines/s", n, s, b / 1e6 / s, l / 1e6 / s
        if (z != "") printf "  %5.2fx %s", z / s, "'"${4:-}"'"
        printf "   runs: %s\n", all }'
}
SCAN="scan --alert-format json --output /dev/null ${RULES[*]}"

if has gz; then
    section "gz: Zeek conn .gz scan vs zcat ($ROUNDS rounds, medians; ratio = zcat time / flowhound time)"
    CMD[zcat]="zcat '$GZ1'"; INPUTS[zcat]=$GZ1
    CMD[isal-default]="'$FLOWHOUND' $SCAN '$GZ1'"; INPUTS[isal-default]=$GZ1
    CMD[isal-jobs1]="'$FLOWHOUND' $SCAN --jobs 1 '$GZ1'"; INPUTS[isal-jobs1]=$GZ1
    if [[ -n "$FLOWHOUND_ZLIB" ]]; then Z="'$FLOWHOUND_ZLIB'"; else Z="FLOWHOUND_INFLATER=zlib '$FLOWHOUND'"; fi
    CMD[zlib-default]="$Z $SCAN '$GZ1'"; INPUTS[zlib-default]=$GZ1
    CMD[zlib-jobs1]="$Z $SCAN --jobs 1 '$GZ1'"; INPUTS[zlib-jobs1]=$GZ1
    run_rounds zcat isal-default isal-jobs1 zlib-default zlib-jobs1
    for n in zcat isal-default isal-jobs1 zlib-default zlib-jobs1; do row "$n" "$RECORDS" "$BYTES" zcat; done
    echo "goals: zlib >= 1.5x zcat, ISA-L >= 3x zcat"
fi

if has plain; then
    section "plain: Zeek TSV conn, 20 rules, --jobs 1"
    CMD[plain-20rules]="'$FLOWHOUND' $SCAN --jobs 1 '$LOG1'"; INPUTS[plain-20rules]=$LOG1
    run_rounds plain-20rules
    row plain-20rules "$RECORDS" "$BYTES"
    # how often the rules fire (untimed; a blocking file output so that no alert is dropped)
    rm -f "$DATA/suite-plain-alerts.json"
    rc=0
    "$FLOWHOUND" scan --quiet --jobs 1 "${RULES[@]}" --output "file:$DATA/suite-plain-alerts.json format=json when_full=block" \
        "$LOG1" || rc=$?
    (( rc == 0 || rc == 1 )) || die "alert count run exited with $rc"
    awk -v n="$RECORDS" '{ if (match($0, /"flowhound":\{"count":[0-9]+/)) { c += substr($0, RSTART + 21, RLENGTH - 21) } else c += 1; a += 1 }
        END { printf "rules fired on %d of %d lines (%.4f%%), %d alerts after merging repeats\n", c, n, 100 * c / n, a }' \
        "$DATA/suite-plain-alerts.json"
    echo "goal: >= 5 M lines/s per core"
fi

if has json; then
    section "json: Zeek JSON conn, 20 rules, --jobs 1"
    CMD[json-20rules]="'$FLOWHOUND' $SCAN --jobs 1 '$JSON1'"; INPUTS[json-20rules]=$JSON1
    run_rounds json-20rules
    row json-20rules "$JSON_RECORDS" "$(stat -c %s "$JSON1")"
    echo "goal: >= 2 M lines/s"
fi

if has jobs; then
    make_conn $((SEED + 1))
    LOG2=$LOG
    R2=$(( RECORDS + $(grep -vc '^#' "$LOG2") )); B2=$(( BYTES + $(stat -c %s "$LOG2") ))
    section "jobs: two plain files, --jobs 2 vs --jobs 1 (ratio = jobs1 time / jobs2 time)"
    CMD[two-files-jobs1]="'$FLOWHOUND' $SCAN --jobs 1 '$LOG1' '$LOG2'"; INPUTS[two-files-jobs1]="$LOG1 $LOG2"
    CMD[two-files-jobs2]="'$FLOWHOUND' $SCAN --jobs 2 '$LOG1' '$LOG2'"; INPUTS[two-files-jobs2]="$LOG1 $LOG2"
    run_rounds two-files-jobs1 two-files-jobs2
    row two-files-jobs1 "$R2" "$B2"
    row two-files-jobs2 "$R2" "$B2" two-files-jobs1
    echo "goal: >= 1.8x"
fi

if has sshd; then
    section "sshd: flowhound vs SEC (Benchmarks/bench_sshd_sec.sh, SIZE_MB=$SSHD_SIZE_MB)"
    if command -v sec > /dev/null; then
        FLOWHOUND=$FLOWHOUND SIZE_MB=$SSHD_SIZE_MB ROUNDS=$ROUNDS "$REPO/Benchmarks/bench_sshd_sec.sh" 2> "$DATA/suite-sshd.err" |
            grep -E 'ratio|median|SEC|flowhound' || echo "bench_sshd_sec.sh failed: $(tail -3 "$DATA/suite-sshd.err")"
    else
        echo "skipped: sec is not installed (apt-get install -y sec)"
    fi
fi

if has sigma; then
    section "sigma: flowhound vs the pySigma oracle (Scripts/sigma_differential.py --bench)"
    python3 "$REPO/Scripts/sigma_differential.py" --bench --bench-flowhound "$FLOWHOUND" \
        --bench-size-mb "$SIGMA_SIZE_MB" --rounds "$ROUNDS" 2> "$DATA/suite-sigma.err" | tail -15 ||
        echo "sigma_differential.py --bench failed: $(tail -3 "$DATA/suite-sigma.err")"
fi

if has rss; then
    RSS_MB=$(( (RSS_GB * 1000000000 + 1048575) / 1048576 ))
    RSS_LOG=$DATA/conn-rss-${RSS_MB}mb-s$((SEED + 7)).log
    section "rss: peak RSS scanning one ${RSS_GB} GB Zeek TSV file (gen_conn --size-mb $RSS_MB)"
    if [[ ! -s "$RSS_LOG" ]]; then
        note "generating $RSS_LOG"
        "$GEN" --tsv "$RSS_LOG.tmp" --size-mb "$RSS_MB" --seed $((SEED + 7)) 2> /dev/null || { rm -f "$RSS_LOG.tmp"; die "gen_conn failed (disk full?)"; }
        mv -f "$RSS_LOG.tmp" "$RSS_LOG"
    fi
    RSS_BYTES=$(stat -c %s "$RSS_LOG")
    t0=$(now)
    rc=0
    /usr/bin/time -v "$FLOWHOUND" $SCAN "$RSS_LOG" > /dev/null 2> "$DATA/suite-rss.err" || rc=$?
    t1=$(now)
    [[ "${KEEP_RSS:-0}" == 1 ]] || rm -f "$RSS_LOG"
    (( rc == 0 || rc == 1 )) || die "rss scan exited with $rc: $(tail -5 "$DATA/suite-rss.err")"
    KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$DATA/suite-rss.err")
    LINES=$(awk '/^flowhound: .* lines,/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "lines,") print $i }' "$DATA/suite-rss.err" | head -1)
    awk -v kb="$KB" -v b="$RSS_BYTES" -v l="${LINES:-0}" -v a="$t0" -v z="$t1" 'BEGIN {
        printf "scanned %.2f GB (%d lines) in %.1f s (%.1f MB/s); peak RSS %.1f MB   (goal <= 100 MB)\n", b / 1e9, l, z - a, b / 1e6 / (z - a), kb / 1024 }'
fi
echo
echo "load average at the end: $(load)"
