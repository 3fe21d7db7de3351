#!/usr/bin/env bash
# make deb: build the Debian packages libhasp0, libhasp-dev and hasp from
# debian/ (debhelper), and the source package (native); check them all
# with lintian (no error or warning may be left), and check what the
# binary packages hold: the files each must ship, the tool running from
# the unpacked packages, and the README's C example built with
# `pkg-config hasp` and with find_package(hasp) against them, fetching a page
# from their `hasp server --www` (tests/install.sh --tree). The .debs land
# in build-deb/.
# The source is this working tree's files (tracked and untracked, without
# what .gitignore excludes), copied to build-deb/hasp-VERSION/.
#
# Usage: scripts/deb.sh [JOBS]
# With HASP_DEB_INSTALL=1 (CI, as root on a clean machine) the packages are
# then installed with apt-get, checked the same way against /usr, and purged.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${1:-2}
OUT=$ROOT/build-deb
start=$SECONDS
die() { echo "deb: $*" >&2; exit 1; }

# One version everywhere: CMake's project(), hasp.h, debian/changelog.
v_cmake=$(sed -n 's/^project(hasp VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
v_header=$(sed -n 's/^#define HASP_VERSION_STRING "\(.*\)"$/\1/p' include/hasp.h)
v_deb=$(dpkg-parsechangelog -l debian/changelog -S Version)
[ "$v_cmake" = "$v_header" ] && [ "$v_cmake" = "${v_deb%%-*}" ] ||
  die "versions disagree: CMakeLists.txt $v_cmake, hasp.h $v_header, debian/changelog $v_deb"

rm -rf "$OUT"
SRC=$OUT/hasp-$v_cmake
mkdir -p "$SRC"
if git rev-parse --git-dir >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
  done | tar --null -T - -cf - | tar -x -C "$SRC"
else
  tar --exclude='./build' --exclude='./build-*' -cf - . | tar -x -C "$SRC"
fi

echo "deb: dpkg-buildpackage in $SRC (log: $OUT/build.log)"
if ! (cd "$SRC" && DEB_BUILD_OPTIONS="parallel=$JOBS ${DEB_BUILD_OPTIONS:-}" \
  dpkg-buildpackage -us -uc >"$OUT/build.log" 2>&1); then
  tail -n 30 "$OUT/build.log" >&2
  die "dpkg-buildpackage failed"
fi
arch=$(dpkg --print-architecture)
changes=$OUT/hasp_${v_deb}_$arch.changes
ls "$OUT"/*.deb "$OUT"/*.dsc
echo "deb: built in $((SECONDS - start)) s"

echo "deb: lintian"
lstart=$SECONDS
lintian --fail-on error,warning "$changes" >"$OUT/lintian.log" 2>&1 && lrc=0 || lrc=$?
cat "$OUT/lintian.log"
grep -E '^[EW]: ' "$OUT/lintian.log" >/dev/null && lrc=1
echo "deb: lintian took $((SECONDS - lstart)) s"
[ $lrc -eq 0 ] || die "lintian reports errors or warnings (above)"
echo "deb: lintian clean (errors and warnings)"

# What each package ships.
fail=0
want() { # PACKAGE REGEX...: dpkg-deb -c of the package has each
  local pkg=$1 deb
  shift
  deb=$(ls "$OUT/${pkg}_${v_deb}_$arch.deb") || { echo "deb: no $pkg package" >&2; fail=1; return; }
  dpkg-deb -c "$deb" >"$OUT/$pkg.contents"
  local re
  for re in "$@"; do
    grep -qE "$re" "$OUT/$pkg.contents" || { echo "deb: $pkg lacks $re" >&2; fail=1; }
  done
}
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
want libhasp0 "\./usr/lib/$ma/libhasp\.so\.$v_cmake\$" "\./usr/lib/$ma/libhasp\.so\.0 -> libhasp\.so\.$v_cmake\$"
want libhasp-dev '\./usr/include/hasp\.h$' "\./usr/lib/$ma/libhasp\.so -> libhasp\.so\.0\$" \
  "\./usr/lib/$ma/libhasp\.a\$" "\./usr/lib/$ma/pkgconfig/hasp\.pc\$" \
  "\./usr/lib/$ma/cmake/hasp/haspConfig\.cmake\$" "\./usr/lib/$ma/cmake/hasp/haspTargets\.cmake\$" \
  '\./usr/share/man/man3/libhasp\.3\.gz$'
want hasp '\./usr/bin/hasp$' '\./usr/share/man/man1/hasp\.1\.gz$' '\./usr/share/bash-completion/completions/hasp$'
[ $fail -eq 0 ] || die "package contents are wrong"
[[ "$(dpkg-deb -f "$OUT/libhasp-dev_${v_deb}_$arch.deb" Depends)" == *"libhasp0 (= $v_deb)"* ]] ||
  die "libhasp-dev does not depend on libhasp0 (= $v_deb)"
echo "deb: package contents ok"

# The tool, and the README example built with pkg-config and with CMake
# against the unpacked packages, fetching a page from their hasp server.
EX=$OUT/example
rm -rf "$EX" && mkdir -p "$EX/root"
for d in "$OUT"/*.deb; do dpkg-deb -x "$d" "$EX/root"; done
"$EX/root/usr/bin/hasp" ciphers >"$EX/ciphers" 2>&1 || die "unpacked hasp ciphers failed: $(head -3 "$EX/ciphers")"
grep -q TLS_AES_128_GCM_SHA256 "$EX/ciphers" || die "hasp ciphers does not list TLS_AES_128_GCM_SHA256"
bash tests/install.sh "$OUT" --tree "$EX/root/usr" --sysroot "$EX/root" >"$EX/use.log" 2>&1 && urc=0 || urc=$?
cat "$EX/use.log"
[ $urc -eq 0 ] || die "the unpacked packages do not work (above)"

if [ "${HASP_DEB_INSTALL:-}" = 1 ]; then
  [ "$(id -u)" = 0 ] || die "HASP_DEB_INSTALL=1 needs root"
  for p in libhasp0 libhasp-dev hasp; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != *"install ok installed"* ]] ||
      die "$p is installed already: not replacing (and then purging) it"
  done
  echo "deb: apt-get install the packages"
  # Purged again however this ends (apt-get purge skips what is not installed).
  purge() { DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq hasp libhasp-dev libhasp0 >>"$OUT/apt.log" 2>&1; }
  trap purge EXIT
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$OUT/libhasp0_${v_deb}_$arch.deb" \
    "$OUT/libhasp-dev_${v_deb}_$arch.deb" "$OUT/hasp_${v_deb}_$arch.deb" >>"$OUT/apt.log" 2>&1 ||
    die "apt-get install failed: $(tail -n 5 "$OUT/apt.log")"
  ok=1
  [[ "$(/usr/bin/hasp ciphers 2>&1)" == *TLS_AES_128_GCM_SHA256* ]] || { echo "deb: installed hasp ciphers failed" >&2; ok=0; }
  bash tests/install.sh "$OUT" --tree /usr >"$EX/use-usr.log" 2>&1 || ok=0
  cat "$EX/use-usr.log"
  trap - EXIT
  purge || die "apt-get purge failed"
  [ $ok -eq 1 ] || die "the installed packages do not work"
  echo "deb: installed with apt-get: hasp, pkg-config hasp, find_package(hasp) and the example work; purged again"
fi
echo "deb: all done in $((SECONDS - start)) s"
