# Shared start of the benchmark scripts (sourced, not run): --help prints the calling script's header comment,
# any other argument is a usage error; then REPO is the repository root and the working directory.
bench_start() {
    local script=$1
    shift
    if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
        sed -n '2,/^set -euo/p' "$script" | sed '$d' | sed 's/^# \{0,1\}//'
        exit 0
    fi
    (( $# == 0 )) || { echo "usage: $script [--help]   (configure with environment variables)" >&2; exit 2; }
    REPO=$(cd "$(dirname "$script")/.." && pwd)
    cd "$REPO"
}
