#!/usr/bin/env bash
# libhasp.so exports the API of include/hasp.h and nothing else: every
# symbol the library defines in its dynamic table is a function named hasp_*
# at version HASP_N (src/libhasp.map; the node itself is the one other
# entry), each one is declared in hasp.h, and each function hasp.h declares
# is exported. The soname is libhasp.so.N, N = SOVERSION in CMakeLists.txt,
# and the Debian library package is libhaspN. The library has no undefined
# symbol that none of its NEEDED libraries could supply (it links with
# --no-undefined, checked here by a program that loads it with RTLD_NOW).
# Usage: bash tests/symbols.sh BUILD_DIR
. "$(dirname "$0")/interop/_lib.sh" "$@"
need_tool readelf cc
SO=$BUILD/libhasp.so
if [ ! -e "$SO" ]; then
  notok "libhasp.so built" "$SO missing (run make)"
  exit 1
fi

# Defined dynamic symbols as "TYPE NAME@@VERSION" (readelf -W: Num Value Size
# Type Bind Vis Ndx Name).
readelf -W --dyn-syms "$SO" | awk 'NR > 3 && $7 != "UND" && $8 != "" { print $4, $5, $8 }' >"$T/defined"
grep -oE '\bhasp_[a-z0-9_]+ *\(' "$ROOT/include/hasp.h" | sed 's/ *($//' | sort -u >"$T/declared"

N=$(sed -n 's/.*SOVERSION \([0-9][0-9]*\).*/\1/p' "$ROOT/CMakeLists.txt" | head -n 1)
check "SOVERSION ($N), the node in src/libhasp.map and the package in debian/control agree" \
  eval '[ -n "$N" ] || fail "no SOVERSION in CMakeLists.txt" || return;
    grep -q "^HASP_$N {" "$ROOT/src/libhasp.map" || fail "src/libhasp.map has no node HASP_$N" || return;
    grep -qx "Package: libhasp$N" "$ROOT/debian/control" || fail "debian/control has no package libhasp$N" || return;
    [ -f "$ROOT/debian/libhasp$N.install" ] || fail "no debian/libhasp$N.install"'

check "libhasp.so's soname is libhasp.so.$N" \
  eval 'readelf -d "$SO" | grep -q "Library soname: \[libhasp\.so\.$N\]" ||
    fail "soname: $(readelf -d "$SO" | grep -i soname)"'

check "every exported symbol is a global hasp_* function at version HASP_$N" \
  eval 'grep -vE "^FUNC GLOBAL hasp_[a-z0-9_]+@@HASP_$N$" "$T/defined" | grep -vx "OBJECT GLOBAL HASP_$N" >"$T/other";
    [ ! -s "$T/other" ] || fail "$(wc -l <"$T/other") other symbol(s): $(head -n 8 "$T/other" | tr "\n" " ")"'

sed -n "s/^FUNC GLOBAL \(hasp_[a-z0-9_]*\)@@HASP_$N\$/\1/p" "$T/defined" | sort -u >"$T/exported"
check "hasp.h declares some functions and libhasp.so exports some (the lists are read right)" \
  eval '[ "$(wc -l <"$T/declared")" -ge 50 ] && [ "$(wc -l <"$T/exported")" -ge 50 ] ||
    fail "declared: $(wc -l <"$T/declared"), exported: $(wc -l <"$T/exported")"'
check "every exported function is declared in hasp.h" \
  eval 'comm -23 "$T/exported" "$T/declared" >"$T/extra"; [ ! -s "$T/extra" ] ||
    fail "exported but not in hasp.h: $(tr "\n" " " <"$T/extra")"'
check "every function hasp.h declares is exported" \
  eval 'comm -13 "$T/exported" "$T/declared" >"$T/missing"; [ ! -s "$T/missing" ] ||
    fail "in hasp.h but not exported: $(tr "\n" " " <"$T/missing")"'

# Loading with RTLD_NOW resolves every undefined symbol at once.
cat >"$T/load.c" <<'EOF'
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    void *h = dlopen(argv[argc - 1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    void *f = dlsym(h, "hasp_config_new");
    void *g = dlsym(h, "hasp_calloc"); /* an internal function (src/alloc.c): must not resolve */
    printf("%s %s\n", f ? "api" : "no-api", g ? "internal" : "no-internal");
    return 0;
}
EOF
SAN_FLAGS=""
[ -n "${HASP_SANITIZED:-}" ] && SAN_FLAGS="-fsanitize=address,undefined" # an ASan libhasp.so needs an ASan program
check "libhasp.so loads with RTLD_NOW, resolves hasp_config_new and hides internal functions" \
  eval 'cc $SAN_FLAGS -o "$T/load" "$T/load.c" -ldl 2>"$T/cc.err" || fail "cc: $(head -n 3 "$T/cc.err")" || return;
    out=$("$T/load" "$SO" 2>&1); [ "$out" = "api no-internal" ] || fail "got: $out"'
finish
