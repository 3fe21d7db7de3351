#!/usr/bin/env bash
# What `make install` gives a user, proved by using it: three installs from
# the same build (PREFIX=DIR; DESTDIR=STAGE with PREFIX; DESTDIR=STAGE with
# the configured prefix). Each tree must hold the shared library (real file
# with soname libhasp.so.0, and the two symlinks), the archive, hasp.h, the
# tool, hasp.pc, the CMake package, hasp(1), libhasp(3) and the bash
# completion, and nothing in it may name the stage.
# Then the README's C example ("A client in C", plus a main() that connects)
# is built against the tree once with pkg-config and once with the README's
# CMake project, and each program must fetch the page from the tree's own
# `hasp server --www` (a certificate for example.com, the name the example
# checks, from a CA given with SSL_CERT_FILE). Last, `make uninstall` with
# the same variables must leave no file behind.
# Usage: bash tests/install.sh BUILD_DIR
#        bash tests/install.sh BUILD_DIR --tree PREFIX [--sysroot ROOT]
#          (only the example, pkg-config and CMake against an installed PREFIX)
. "$(dirname "$0")/interop/_lib.sh" "$@"
need_tool cc cmake make pkg-config openssl readelf
if [ "${2:-}" != --tree ]; then
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    notok "build configured" "$BUILD/CMakeCache.txt missing (run make first)"
    exit 1
  fi
  LIBDIR=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$BUILD/CMakeCache.txt")
  CONFIGURED_PREFIX=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
fi
VERSION=$(sed -n 's/^#define HASP_VERSION_STRING "\(.*\)"$/\1/p' "$ROOT/include/hasp.h")
SAN_FLAGS=""
[ -n "${HASP_SANITIZED:-}" ] && SAN_FLAGS="-fsanitize=address,undefined"

# --- a CA and an example.com server certificate (ECDSA P-256, two days)
pki() {
  local d=$T/pki
  mkdir -p "$d"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=hasp install test CA" -keyout "$d/ca.key" -out "$d/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" &&
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=example.com" -keyout "$d/srv.key" -out "$d/srv.csr" &&
    printf '%s\n' "subjectAltName=DNS:example.com" "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$d/srv.ext" &&
    openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
      -days 2 -extfile "$d/srv.ext" -out "$d/srv.pem"
}
if ! pki >"$T/pki.log" 2>&1; then
  notok "example.com test certificate" "$(tail -3 "$T/pki.log")"
  exit 1
fi

# --- the program: the README's example, verbatim, and a main() for it
readme_block() { # LANG: the first ```LANG block of README.md after "## A client in C"
  awk -v lang="$1" '/^## A client in C/ { sec = 1 }
    sec && !done && $0 == "```" lang { inb = 1; next }
    inb && $0 == "```" { inb = 0; done = 1 }
    inb { print }' "$ROOT/README.md"
}
mkdir -p "$T/src"
readme_block c >"$T/src/app.c"
cat >>"$T/src/app.c" <<'EOF'

/* Appended by tests/install.sh: connect to 127.0.0.1:PORT, then fetch(). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        return 2;
    }
    int rc = fetch(fd);
    close(fd);
    return rc == 0 ? 0 : 1;
}
EOF
readme_block cmake >"$T/src/CMakeLists.txt"
check "README has the C example and the CMake project" \
  eval 'grep -q "^int fetch(int fd)" "$T/src/app.c" && grep -q "find_package(hasp REQUIRED)" "$T/src/CMakeLists.txt" || fail "README.md: no \`\`\`c block with fetch() or no \`\`\`cmake block with find_package(hasp) under \"## A client in C\""'

# tree_ok TREE STAGE: the installed files are all there and right.
tree_ok() {
  local t=$1 stage=$2 l=$1/$LIBDIR
  [ -x "$t/bin/hasp" ] || fail "no executable $t/bin/hasp" || return
  cmp -s "$ROOT/include/hasp.h" "$t/include/hasp.h" || fail "$t/include/hasp.h is not include/hasp.h" || return
  [ -f "$l/libhasp.so.$VERSION" ] && [ ! -L "$l/libhasp.so.$VERSION" ] ||
    fail "$l/libhasp.so.$VERSION is not a regular file" || return
  [ "$(readlink "$l/libhasp.so.0")" = "libhasp.so.$VERSION" ] ||
    fail "$l/libhasp.so.0 is not a symlink to libhasp.so.$VERSION: $(ls -l "$l/libhasp.so.0" 2>&1)" || return
  [ "$(readlink "$l/libhasp.so")" = libhasp.so.0 ] ||
    fail "$l/libhasp.so is not a symlink to libhasp.so.0: $(ls -l "$l/libhasp.so" 2>&1)" || return
  readelf -d "$l/libhasp.so.$VERSION" | grep -q 'Library soname: \[libhasp\.so\.0\]' ||
    fail "soname of libhasp.so.$VERSION is not libhasp.so.0" || return
  [ -f "$l/libhasp.a" ] || fail "no $l/libhasp.a" || return
  cmp -s "$ROOT/docs/hasp.1" "$t/share/man/man1/hasp.1" || fail "$t/share/man/man1/hasp.1 is not docs/hasp.1" || return
  cmp -s "$ROOT/docs/libhasp.3" "$t/share/man/man3/libhasp.3" ||
    fail "$t/share/man/man3/libhasp.3 is not docs/libhasp.3" || return
  cmp -s "$ROOT/tools/hasp/hasp.bash" "$t/share/bash-completion/completions/hasp" ||
    fail "$t/share/bash-completion/completions/hasp is not tools/hasp/hasp.bash" || return
  local f
  for f in pkgconfig/hasp.pc cmake/hasp/haspConfig.cmake cmake/hasp/haspConfigVersion.cmake \
    cmake/hasp/haspTargets.cmake; do
    [ -f "$l/$f" ] || fail "no $l/$f" || return
  done
  if [ -n "$stage" ] && grep -rlF "$stage" "$l/pkgconfig" "$l/cmake" >"$T/named" 2>/dev/null; then
    fail "files name the stage $stage: $(tr '\n' ' ' <"$T/named")"
    return
  fi
  return 0
}

# serve_and_fetch NAME TREE PROGRAM [ENV...]: the tree's hasp server --www on a
# fresh port, PROGRAM PORT fetching from it; the page must come back whole.
serve_and_fetch() {
  local name=$1 tree=$2 prog=$3
  shift 3
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null "$tree/bin/hasp" server --accept "$PORT" --naccept 1 --www \
    --cert "$T/pki/srv.pem" --key "$T/pki/srv.key"
  local spid=$BGPID
  if ! wait_listen "$PORT" "$spid"; then
    notok "$name" "$tree/bin/hasp server did not start: $WHY"
    keep_case "$name"
    return
  fi
  note_cmd env "$@" SSL_CERT_FILE="$T/pki/ca.pem" "$prog" "$PORT"
  env "$@" SSL_CERT_FILE="$T/pki/ca.pem" timeout "$TMO" "$prog" "$PORT" >"$C/app.out" 2>"$C/app.err"
  local rc=$? why=""
  bg_wait "$spid" 5
  [ $rc -eq 0 ] || why="the example exited $rc ($(tail -n 2 "$C/app.err" | tr '\n' ' '));"
  tr -d '\r' <"$C/app.out" >"$C/page"
  has_line "$C/page" "HTTP/1.0 200 ok" || why="$why no 'HTTP/1.0 200 ok';"
  has_line "$C/page" "hasp $VERSION server" || why="$why no 'hasp $VERSION server';"
  has_line "$C/page" "Server name: example.com" || why="$why no 'Server name: example.com';"
  has_line "$C/page" "</pre></body></html>" || why="$why the page is cut short;"
  if [ -z "$why" ]; then ok "$name"; else notok "$name" "$why"; keep_case "$name"; fi
}

# use_tree LABEL TREE LIBDIR [SYSROOT]: pkg-config and CMake see TREE's hasp;
# the README example built both ways fetches the page from TREE's server.
# SYSROOT: TREE lies under it, and its hasp.pc names the paths without it.
use_tree() {
  local label=$1 tree=$2 libdir=$3 sysroot=${4:-}
  local w=$T/w-${label//[^A-Za-z]/_} pcdir=$tree/$libdir/pkgconfig
  mkdir -p "$w"
  pc() {
    if [ -n "$sysroot" ]; then
      PKG_CONFIG_SYSROOT_DIR="$sysroot" PKG_CONFIG_LIBDIR="$pcdir:$(pkg-config --variable pc_path pkg-config)" \
        pkg-config "$@"
    else
      PKG_CONFIG_PATH="$pcdir" pkg-config "$@"
    fi
  }
  check "$label: pkg-config hasp reports version $VERSION" \
    eval '[ "$(pc --modversion hasp 2>&1)" = "$VERSION" ] || fail "pkg-config --modversion hasp: $(pc --modversion hasp 2>&1)"'

  # shellcheck disable=SC2046
  if cc -Wall -Wextra -Werror $SAN_FLAGS -o "$w/app-pc" "$T/src/app.c" $(pc --cflags --libs hasp) \
    >"$w/cc.log" 2>&1; then
    ok "$label: the README example builds with cc app.c \$(pkg-config --cflags --libs hasp)"
    check "$label: the pkg-config build links libhasp.so.0" \
      eval 'readelf -d "$w/app-pc" | grep -q "Shared library: \[libhasp\.so\.0\]" || fail "app does not need libhasp.so.0"'
    serve_and_fetch "$label: the pkg-config build fetches the page from hasp server --www" "$tree" "$w/app-pc" \
      LD_LIBRARY_PATH="$tree/$libdir"
  else
    notok "$label: the README example builds with pkg-config" "$(head -n 5 "$w/cc.log")"
  fi

  if cmake -S "$T/src" -B "$w/cm" -DCMAKE_PREFIX_PATH="$tree" -DCMAKE_C_FLAGS="-Wall -Werror $SAN_FLAGS" \
    >"$w/cmake.log" 2>&1 && cmake --build "$w/cm" >>"$w/cmake.log" 2>&1; then
    ok "$label: the README example builds with the README's CMake project (find_package(hasp))"
    # No LD_LIBRARY_PATH: CMake's build RPATH must lead to the installed library.
    serve_and_fetch "$label: the CMake build fetches the page from hasp server --www" "$tree" "$w/cm/app"
  else
    notok "$label: the README example builds with CMake" "$(grep -m3 -iE 'error|not found' "$w/cmake.log")"
  fi
}

# --tree DIR [--sysroot ROOT]: only use_tree on a tree installed by other means
# (scripts/deb.sh: the unpacked packages, then /usr after apt-get install).
if [ "${2:-}" = --tree ]; then
  tree=${3:?--tree DIR}
  sysroot=""
  [ "${4:-}" = --sysroot ] && sysroot=${5:?--sysroot ROOT}
  pcfile=$(find "$tree"/lib* -path '*/pkgconfig/hasp.pc' 2>/dev/null | head -n 1)
  if [ -z "$pcfile" ]; then
    notok "hasp.pc under $tree" "no $tree/lib*/pkgconfig/hasp.pc"
    finish
  fi
  libdir=${pcfile#"$tree"/}
  libdir=${libdir%/pkgconfig/hasp.pc}
  use_tree "${sysroot:+unpacked }$tree" "$tree" "$libdir" "$sysroot"
  finish
fi

# mk ARGS...: make with only the variables given here. Under `make test` the
# caller's MAKEFLAGS (make test PREFIX=...) and an exported PREFIX or DESTDIR
# would otherwise reach the install.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u PREFIX -u DESTDIR make --no-print-directory "$@"; }

# one_install LABEL TREE STAGE MAKEVARS...: install, check, use, uninstall.
one_install() {
  local label=$1 tree=$2 stage=$3
  shift 3
  local w=$T/w-${label//[^A-Za-z]/_}
  mkdir -p "$w"
  if ! mk -C "$ROOT" install BUILD="$BUILD" "$@" >"$w/install.log" 2>&1; then
    notok "$label: make install" "$(tail -n 3 "$w/install.log")"
    return
  fi
  ok "$label: make install"
  check "$label: the tree has the library (soname, symlinks), archive, header, tool, hasp.pc, CMake package, man pages, completion" \
    tree_ok "$tree" "$stage"
  use_tree "$label" "$tree" "$LIBDIR"

  if ! mk -C "$ROOT" uninstall BUILD="$BUILD" "$@" >"$w/uninstall.log" 2>&1; then
    notok "$label: make uninstall" "$(tail -n 3 "$w/uninstall.log")"
    return
  fi
  local top=${stage:-$tree}
  check "$label: make uninstall leaves no file" \
    eval 'left=$(find "$top" ! -type d | head -n 5); [ -z "$left" ] || fail "left behind: $left"'
  check "$label: make uninstall removes lib/cmake/hasp" \
    eval '[ ! -e "$tree/$LIBDIR/cmake/hasp" ] || fail "$tree/$LIBDIR/cmake/hasp is still there"'
}

one_install "PREFIX=DIR" "$T/prefix" "" PREFIX="$T/prefix"
one_install "DESTDIR=STAGE PREFIX=/opt/hasp" "$T/stage1/opt/hasp" "$T/stage1" DESTDIR="$T/stage1" PREFIX=/opt/hasp
one_install "DESTDIR=STAGE" "$T/stage2$CONFIGURED_PREFIX" "$T/stage2" DESTDIR="$T/stage2"

# A tree moved after installing still answers pkg-config with its new place.
mk -C "$ROOT" install BUILD="$BUILD" PREFIX="$T/before" >"$T/mv.log" 2>&1 &&
  mv "$T/before" "$T/after" &&
  mk -C "$ROOT" uninstall BUILD="$BUILD" PREFIX="$T/before" >>"$T/mv.log" 2>&1
check "a moved tree: pkg-config --cflags hasp names the new place" \
  eval 'inc=$(PKG_CONFIG_PATH="$T/after/$LIBDIR/pkgconfig" pkg-config --cflags hasp | sed "s/^-I//; s/ *$//");
    [ -n "$inc" ] && [ -f "$inc/hasp.h" ] && [ "$(cd "$inc" && pwd -P)" = "$(cd "$T/after/include" && pwd -P)" ] ||
      fail "pkg-config --cflags gave \"-I$inc\" ($(tail -n 2 "$T/mv.log"))"'
finish
