#!/usr/bin/env bash
# Build flowhound in release mode and install it with its default rules:
#   PREFIX/bin/flowhound and PREFIX/share/flowhound/Rules (found by the binary at run time).
# Usage: Scripts/install.sh [PREFIX]   (default /usr/local)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
prefix="${1:-/usr/local}"
swift build -c release --product flowhound
install -d "$prefix/bin" "$prefix/share/flowhound"
install -m 0755 "$(swift build -c release --show-bin-path)/flowhound" "$prefix/bin/flowhound"
rm -rf "$prefix/share/flowhound/Rules"
cp -R Rules "$prefix/share/flowhound/Rules"
echo "installed $prefix/bin/flowhound and $prefix/share/flowhound/Rules"
