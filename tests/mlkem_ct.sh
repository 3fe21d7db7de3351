#!/usr/bin/env bash
# ML-KEM in constant time, proved with valgrind (the ctgrind technique):
# build/tests/mlkem_ct runs KeyGen, Encaps and Decaps with the secret
# inputs (d, z, m, s-hat, the implicit-rejection seed z) marked undefined;
# memcheck reports any branch or memory index that depends on them
# ("conditional jump or move depends on uninitialised value(s)", "use of
# uninitialised value of size N"). Any report fails. valgrind comes with
# scripts/deps.sh test. Usage: bash tests/mlkem_ct.sh BUILD_DIR
. "$(dirname "$0")/interop/_lib.sh" "$@"
need_tool valgrind
PROG="$BUILD/tests/mlkem_ct"
if [ ! -x "$PROG" ]; then
  notok "mlkem_ct: $PROG" "not built: valgrind/memcheck.h was missing at build time (scripts/deps.sh test installs valgrind)"
  finish
fi
if [ -n "${HASP_SANITIZED:-}" ]; then
  # valgrind cannot run an AddressSanitizer binary; here the program runs
  # alone, so ASan/UBSan check its KeyGen/Encaps/Decaps round trips. The
  # constant-time proof is the plain build's run (make test).
  out=$("$PROG" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  if [ "$rc" -eq 0 ] && [ "$(printf '%s\n' "$out" | grep -c '^ok - ')" -eq 2 ]; then
    ok "mlkem_ct: ML-KEM-768/1024 round trips clean under ASan/UBSan (the valgrind proof runs in the plain build)"
  else
    notok "mlkem_ct: sanitized run" "exit $rc: $out"
  fi
  finish
fi
VLOG="$T/valgrind.log"
out=$(valgrind -q --error-exitcode=99 --track-origins=yes --log-file="$VLOG" "$PROG" 2>&1)
rc=$?
printf '%s\n' "$out"
reports=$(grep -c 'uninitialised' "$VLOG" 2>/dev/null)
if [ "$rc" -eq 0 ] && [ "${reports:-0}" -eq 0 ]; then
  ok "mlkem_ct: valgrind finds no secret-dependent branch or index in ML-KEM-768/1024"
else
  mkdir -p "$LOGS" && cp "$VLOG" "$LOGS/valgrind.log"
  notok "mlkem_ct: valgrind" "exit $rc, $reports uninitialised-value reports (first: $(grep -m1 -A3 uninitialised "$VLOG" | tr '\n' ' ')); log in $LOGS/valgrind.log"
fi
finish
