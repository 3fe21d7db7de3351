#!/usr/bin/env bash
# The x509-limbo suite through hasp_x509_verify. Usage: tests/limbo.sh BUILD_DIR
# Prints one line per case and "limbo: N right, N wrong, N skipped"; fails on
# any wrong answer. Skips are documented in docs/x509.md.
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
LIMBO=${LIMBO_JSON:-../shared/x509-limbo/limbo.json}
if [ ! -f "$LIMBO" ]; then
  echo "not ok - limbo.json not found at $LIMBO (set LIMBO_JSON)"
  exit 1
fi
exec "$BUILD/tests/x509_limbo" "$LIMBO"
