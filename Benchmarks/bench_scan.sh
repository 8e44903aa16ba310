#!/usr/bin/env bash
# bench_scan.sh — on-demand throughput benchmark for `flowhound scan` on a large Zeek conn log.
#
# Never run by the unit tests. See Benchmarks/README.md for what it measures and the targets.
#
# Environment knobs (all optional):
#   SIZE_MB=600        size of the generated plain TSV log in MiB (must be >= 500)
#   ROUNDS=5           timed rounds per command (one extra warm-up round is run first)
#   SEED=1             gen_conn seed (same seed + size -> same bytes)
#   BUILD=1            0 = skip `swift build -c release` and use whatever binary exists
#   ZCAT_ONLY=0        1 = measure only the zcat baseline (no flowhound needed)
#   GEN_CONN_SRC=...   path to gen_conn.c (default: ../shared/tools/gen_conn.c from the repo root)
#   FLOWHOUND=...      path to the flowhound binary (default: .build/release/flowhound)
#   RULES=...          rules passed to --rules (default: Rules/flowhound/zeek, the sample Sigma rules
#                      the P1 target is stated for; RULES=Rules adds the correlation and the 14
#                      behavioural detectors, which read every conn field)
set -euo pipefail

# shellcheck source=Benchmarks/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_start "${BASH_SOURCE[0]}" "$@"

SIZE_MB=${SIZE_MB:-600}
ROUNDS=${ROUNDS:-5}
SEED=${SEED:-1}
BUILD=${BUILD:-1}
ZCAT_ONLY=${ZCAT_ONLY:-0}
GEN_CONN_SRC=${GEN_CONN_SRC:-$REPO/../shared/tools/gen_conn.c}
FLOWHOUND=${FLOWHOUND:-$REPO/.build/release/flowhound}
RULES=${RULES:-$REPO/Rules/flowhound/zeek}
DATA=$REPO/Benchmarks/data

die() { echo "bench_scan.sh: error: $*" >&2; exit 2; }
note() { echo "== $*" >&2; }

[[ "$SIZE_MB" =~ ^[0-9]+$ ]] || die "SIZE_MB must be an integer (got '$SIZE_MB')"
(( SIZE_MB >= 500 )) || die "SIZE_MB must be >= 500 (got $SIZE_MB)"
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && (( ROUNDS >= 1 )) || die "ROUNDS must be a positive integer"
[[ "$SEED" =~ ^[0-9]+$ ]] || die "SEED must be a non-negative integer"
command -v gzip >/dev/null || die "gzip not found"
command -v zcat >/dev/null || die "zcat not found"
CC=${CC:-$(command -v cc || command -v gcc || command -v clang || true)}
[[ -n "$CC" ]] || die "no C compiler (cc/gcc/clang) found to build gen_conn"

mkdir -p "$DATA"

# --- 1. flowhound release build -------------------------------------------------------------
if [[ "$ZCAT_ONLY" != 1 ]]; then
    if [[ "$BUILD" != 0 ]]; then
        note "swift build -c release"
        swift build -c release >&2 || die "swift build -c release failed"
    fi
    [[ -x "$FLOWHOUND" ]] || die "flowhound binary not found at $FLOWHOUND
  build it with 'swift build -c release' (or set FLOWHOUND=...),
  or run with ZCAT_ONLY=1 to measure only the zcat baseline"
    [[ -d "$RULES" ]] || die "rules directory $RULES not found"
fi

# --- 2. gen_conn ------------------------------------------------------------------------------
[[ -f "$GEN_CONN_SRC" ]] || die "gen_conn.c not found at $GEN_CONN_SRC
  (expected ../shared/tools/gen_conn.c next to the repository; set GEN_CONN_SRC=... to override)"
GEN=$DATA/gen_conn
if [[ ! -x "$GEN" || "$GEN_CONN_SRC" -nt "$GEN" ]]; then
    note "compiling $GEN_CONN_SRC -> $GEN"
    "$CC" -O2 -o "$GEN.tmp" "$GEN_CONN_SRC" -lm || die "compiling gen_conn failed"
    mv -f "$GEN.tmp" "$GEN"
fi

# --- 3. data (reused when already present; written via temp names so an interrupted run
#        never leaves a truncated file that a later run would trust) ---------------------------
LOG=$DATA/conn-${SIZE_MB}mb-s${SEED}.log
GZ=$LOG.gz
LINES_FILE=$LOG.lines
if [[ ! -s "$LOG" ]]; then
    note "generating $LOG (${SIZE_MB} MiB, seed $SEED)"
    "$GEN" --tsv "$LOG.tmp" --size-mb "$SIZE_MB" --seed "$SEED" || die "gen_conn failed"
    mv -f "$LOG.tmp" "$LOG"
    rm -f "$GZ" "$LINES_FILE"
else
    note "reusing $LOG"
fi
if [[ ! -s "$GZ" || "$LOG" -nt "$GZ" ]]; then
    note "gzip -6 (keeping the plain file) -> $GZ"
    # same result as `gzip -6 -k`, but through a temp name
    gzip -6 -c "$LOG" > "$GZ.tmp" || die "gzip failed"
    mv -f "$GZ.tmp" "$GZ"
else
    note "reusing $GZ"
fi
if [[ ! -s "$LINES_FILE" || "$LOG" -nt "$LINES_FILE" ]]; then
    { wc -l < "$LOG"; grep -vc '^#' "$LOG"; } > "$LINES_FILE.tmp"
    mv -f "$LINES_FILE.tmp" "$LINES_FILE"
fi
{ read -r TOTAL_LINES; read -r RECORDS; } < "$LINES_FILE"
BYTES=$(stat -c %s "$LOG")
GZ_BYTES=$(stat -c %s "$GZ")
note "plain $BYTES bytes, gz $GZ_BYTES bytes, $TOTAL_LINES lines ($RECORDS records)"

# --- 4. timing ----------------------------------------------------------------------------------
# Each command is preceded (untimed) by `cat INPUT >/dev/null`: the page cache on this machine is
# evicted after ~30 s, so without it the first reader pays for the disk.
now() { date +%s.%N; }

# time_cmd NAME INPUT OK_CODES CMD... -> prints elapsed seconds on stdout
time_cmd() {
    local name=$1 input=$2 ok=$3; shift 3
    cat "$input" > /dev/null
    local t0 t1 rc=0
    t0=$(now)
    "$@" >&2 || rc=$?
    t1=$(now)
    if [[ " $ok " != *" $rc "* ]]; then
        die "$name exited with status $rc (accepted: $ok) on ${input##*/}"
    fi
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }'
}

NAMES=(zcat)
declare -A INPUT OK
INPUT[zcat]=$GZ;          OK[zcat]="0"
if [[ "$ZCAT_ONLY" != 1 ]]; then
    NAMES+=(flowhound-gz flowhound-plain)
    INPUT[flowhound-gz]=$GZ;      OK[flowhound-gz]="0 1"      # 1 = findings, not a failure
    INPUT[flowhound-plain]=$LOG;  OK[flowhound-plain]="0 1"
fi

run_one() {
    case $1 in
        zcat)            zcat "$GZ" > /dev/null ;;
        flowhound-gz)    "$FLOWHOUND" scan --rules "$RULES" --alert-format json --output /dev/null "$GZ" ;;
        flowhound-plain) "$FLOWHOUND" scan --rules "$RULES" --alert-format json --output /dev/null "$LOG" ;;
    esac
}

declare -A TIMES
for (( r = 0; r <= ROUNDS; r++ )); do
    for n in "${NAMES[@]}"; do
        t=$(time_cmd "$n" "${INPUT[$n]}" "${OK[$n]}" run_one "$n")
        if (( r == 0 )); then
            note "warm-up  $n ${t}s"
        else
            note "round $r/$ROUNDS $n ${t}s"
            TIMES[$n]+="$t "
        fi
    done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A MED
echo
echo "input: $LOG ($(awk -v b="$BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB plain, $(awk -v b="$GZ_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB gz, $TOTAL_LINES lines); $ROUNDS rounds, medians"
printf '%-16s %10s %10s %10s   %s\n' command "median_s" "MB/s" "Mlines/s" "all runs (s)"
for n in "${NAMES[@]}"; do
    MED[$n]=$(echo "${TIMES[$n]}" | median)
    awk -v n="$n" -v s="${MED[$n]}" -v b="$BYTES" -v l="$TOTAL_LINES" -v all="${TIMES[$n]}" \
        'BEGIN { printf "%-16s %10.3f %10.1f %10.2f   %s\n", n, s, b / 1e6 / s, l / 1e6 / s, all }'
done
if [[ "$ZCAT_ONLY" != 1 ]]; then
    echo
    awk -v z="${MED[zcat]}" -v f="${MED[flowhound-gz]}" \
        'BEGIN { printf "flowhound-gz / zcat throughput ratio: %.2fx   (target >= 1.0 now, >= 1.5 eventually)\n", z / f }'
    awk -v p="${MED[flowhound-plain]}" -v l="$TOTAL_LINES" \
        'BEGIN { printf "flowhound plain TSV: %.2f M lines/s   (target >= 3 M lines/s now)\n", l / 1e6 / p }'
fi
