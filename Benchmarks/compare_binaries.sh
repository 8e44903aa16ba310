#!/usr/bin/env bash
# compare_binaries.sh ROUNDS INPUT BINARY... — interleaved rounds of `flowhound scan` with several binaries on
# one input; prints each binary's median wall time and median CPU time (user + sys, from /usr/bin/time).
# Knobs: RULES=DIR (default Rules/flowhound/zeek of this checkout), EXTRA="more scan flags".
# Never run by the unit tests.
set -euo pipefail
(( $# >= 3 )) || { echo "usage: $0 ROUNDS INPUT BINARY..." >&2; exit 2; }
ROUNDS=$1; INPUT=$2; shift 2
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RULES=${RULES:-$REPO/Rules/flowhound/zeek}
TIMES=$(mktemp); trap 'rm -f "$TIMES" "$TIMES.one"' EXIT
for ((i = 1; i <= ROUNDS; i++)); do
    for b in "$@"; do
        # shellcheck disable=SC2086
        /usr/bin/time -f "$b %e %U %S" -o "$TIMES.one" "$b" scan --rules "$RULES" --output /dev/null --quiet \
            ${EXTRA:-} "$INPUT" >/dev/null 2>&1 || true
        cat "$TIMES.one" >>"$TIMES"
    done
done
python3 - "$TIMES" "$@" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
for b in sys.argv[2:]:
    w = [float(r[1]) for r in rows if r[0] == b]
    c = [float(r[2]) + float(r[3]) for r in rows if r[0] == b]
    print(f"{b}: wall median {statistics.median(w):.3f} s, cpu median {statistics.median(c):.3f} s; walls "
          + " ".join(f"{x:.2f}" for x in w))
PY
