#!/usr/bin/env bash
# A short load test in make test: 100 concurrent TLS clients for 3 s (make soak runs 1000 for 30 s).
cd "$(dirname "$0")/.." || exit 1
out=$(bash scripts/soak.sh "${1:-build}" 100 3)
echo "$out"
! echo "$out" | grep -q '^not ok'
