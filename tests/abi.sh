#!/usr/bin/env bash
# The ABI check (scripts/abi-check.sh, `make abi-check`): libhasp.so as
# built is compatible with the baseline (the previous release; see
# README.md, Packaging), and the check itself tells changes apart, shown on
# small libraries built here: an added function passes, a removed function
# or a field added to a caller-allocated struct fails under the same soname
# and passes under a new one.
# Usage: bash tests/abi.sh BUILD_DIR
. "$(dirname "$0")/interop/_lib.sh" "$@"
need_tool abidiff abidw cc readelf
CHECK=$ROOT/scripts/abi-check.sh

check "libhasp.so is ABI-compatible with the baseline (make abi-check)" \
  eval '"$CHECK" "$BUILD" >"$T/real.out" 2>&1 || fail "$(grep -v "^  " "$T/real.out" | tr "\n" " ")"'

# toy NAME SONAME [-DVARIANT]: a libhasp.so with its own public header.
mkdir -p "$T/inc"
cat >"$T/inc/toy.h" <<'EOF'
#ifndef TOY_H
#define TOY_H
typedef struct toy_limits {
    unsigned max_size;
#ifdef TOY_MORE_FIELDS
    unsigned max_count;
#endif
} toy_limits;
void toy_get_limits(toy_limits *out);
int toy_hello(int x);
#ifndef TOY_NO_BYE
int toy_bye(int x);
#endif
#ifdef TOY_NEW_FUNC
int toy_extra(int x);
#endif
#endif
EOF
cat >"$T/toy.c" <<'EOF'
#include "toy.h"
void toy_get_limits(toy_limits *out) { out->max_size = 1; }
int toy_hello(int x) { return x + 1; }
#ifndef TOY_NO_BYE
int toy_bye(int x) { return x - 1; }
#endif
#ifdef TOY_NEW_FUNC
int toy_extra(int x) { return 2 * x; }
#endif
EOF
toy() {
  mkdir -p "$T/$1"
  cc -g -O0 -shared -fPIC -I"$T/inc" -Wl,-soname,"$2" ${3:+"$3"} -o "$T/$1/libhasp.so" "$T/toy.c" 2>>"$T/toy.err"
}
if ! { toy base libhasp.so.0 && toy added libhasp.so.0 -DTOY_NEW_FUNC && toy removed libhasp.so.0 -DTOY_NO_BYE &&
  toy grown libhasp.so.0 -DTOY_MORE_FIELDS && toy grown-bumped libhasp.so.1 -DTOY_MORE_FIELDS; }; then
  notok "build the toy libraries" "$(head -n 3 "$T/toy.err")"
  finish
fi

# verdict NAME DIR WANT-STATUS WANT-TEXT: abi-check of DIR against base.
verdict() {
  local name=$1 dir=$2 want=$3 text=$4 rc
  HASP_ABI_HEADERS="$T/inc" "$CHECK" "$T/$dir" "$T/base/libhasp.so" >"$T/$dir.out" 2>&1
  rc=$?
  if [ $rc -eq "$want" ] && grep -qF -- "$text" "$T/$dir.out"; then
    ok "$name"
  else
    notok "$name" "status $rc (want $want), output: $(tr '\n' ' ' <"$T/$dir.out" | cut -c1-300)"
  fi
}
verdict "abi-check: the same library passes as 'no ABI change'" base 0 "ok: no ABI change"
verdict "abi-check: an added function passes as compatible" added 0 "ok: compatible changes only"
verdict "abi-check: a removed function under the same soname fails" removed 1 "FAIL: incompatible ABI change"
verdict "abi-check: a field added to a public struct under the same soname fails" grown 1 \
  "FAIL: incompatible ABI change"
verdict "abi-check: the same change under a new soname passes" grown-bumped 0 \
  "ok: incompatible changes, under a new soname (libhasp.so.0 -> libhasp.so.1)"
finish
