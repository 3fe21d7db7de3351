#!/usr/bin/env bash
# make abi-check: compare BUILD/libhasp.so with the ABI of the previous
# release (abidiff, from abigail-tools), and apply the soname rule of
# README.md (Packaging):
#   - no change, or only additions: passes (the additions are listed);
#   - anything else is incompatible (a function removed or changed, a public
#     type changed, e.g. a field added to hasp_limits): it passes only if the soname
#     changed too; otherwise it fails and says what to bump.
# The baseline is the latest tag v* before HEAD (built once into
# build-abi/TAG/ from `git archive`); while there is no such tag (no release
# yet) it is abi/libhasp.abi, the abidw dump of the 0.1.0 ABI, committed.
#
# Usage: scripts/abi-check.sh BUILD [BASELINE]   BASELINE: a .so or an abidw dump
#        scripts/abi-check.sh --dump BUILD        rewrite abi/libhasp.abi from BUILD
#          (at a release that has no tag to stand for it, e.g. the first one)
# Exit status: 0 compatible, 1 incompatible without a new soname, 2 error.
# HASP_ABI_HEADERS (default include) is where the public headers are, for
# both sides when BASELINE is given (tests/abi.sh uses it for its own libraries).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
die() { echo "abi-check: $*" >&2; exit 2; }
command -v abidiff >/dev/null || die "abidiff not found (apt-get install abigail-tools)"
HEADERS=${HASP_ABI_HEADERS:-include}
ABIDW_FLAGS=(--headers-dir "$HEADERS" --no-corpus-path --short-locs --no-comp-dir-path)

if [ "${1:-}" = --dump ]; then
  so=$(readlink -f "${2:?usage: $0 --dump BUILD}/libhasp.so") || die "no libhasp.so in $2"
  abidw "${ABIDW_FLAGS[@]}" --out-file abi/libhasp.abi "$so" || die "abidw failed"
  echo "abi-check: wrote abi/libhasp.abi from $so"
  exit 0
fi

build=${1:?usage: $0 BUILD [BASELINE]}
new=$(readlink -f "$build/libhasp.so") && [ -f "$new" ] || die "no $build/libhasp.so (run make)"
baseline=${2:-}
old_headers=$HEADERS
what=""
if [ -z "$baseline" ]; then
  # The previous release: the newest v* tag that is an ancestor of HEAD, and
  # not HEAD itself (a release is compared with the one before it).
  tag=""
  if git rev-parse --git-dir >/dev/null 2>&1; then
    tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' HEAD 2>/dev/null || true)
    if [ -n "$tag" ] && [ "$(git rev-parse "$tag^{commit}")" = "$(git rev-parse HEAD)" ]; then
      tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' HEAD^ 2>/dev/null || true)
    fi
  fi
  if [ -n "$tag" ]; then
    dir=build-abi/$tag
    if [ ! -f "$dir/build/libhasp.so" ]; then
      echo "abi-check: building libhasp.so of $tag in $dir" >&2
      rm -rf "$dir" && mkdir -p "$dir/src" || die "cannot create $dir"
      git archive "$tag" | tar -x -C "$dir/src" || die "git archive $tag failed"
      cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHASP_BENCH=OFF \
        >"$dir/build.log" 2>&1 && cmake --build "$dir/build" --target hasp >>"$dir/build.log" 2>&1 ||
        die "building $tag failed (see $dir/build.log)"
    fi
    baseline=$(readlink -f "$dir/build/libhasp.so")
    old_headers=$dir/src/include
    what="$tag"
  else
    baseline=abi/libhasp.abi
    what="abi/libhasp.abi (no release tag yet)"
  fi
fi
[ -f "$baseline" ] || die "no baseline $baseline"
[ -n "$what" ] || what=$baseline

soname_of() { # a .so or an abidw dump
  case "$1" in
    *.abi | *.xml) sed -n "s/.*<abi-corpus [^>]*soname='\([^']*\)'.*/\1/p" "$1" | head -n 1 ;;
    *) readelf -d "$1" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p' ;;
  esac
}
old_soname=$(soname_of "$baseline")
new_soname=$(soname_of "$new")
[ -n "$old_soname" ] && [ -n "$new_soname" ] || die "cannot read the sonames ($old_soname, $new_soname)"

args=(--headers-dir2 "$HEADERS")
case "$baseline" in *.abi | *.xml) ;; *) args+=(--headers-dir1 "$old_headers") ;; esac
report=$(abidiff "${args[@]}" "$baseline" "$new" 2>&1)
rc=$?
echo "abi-check: $new_soname ($new) against $old_soname of $what"
[ -n "$report" ] && printf '%s\n' "$report" | sed 's/^/  /'
if [ $((rc & 3)) -ne 0 ]; then
  die "abidiff failed (status $rc)"
fi
# abidiff's status says "incompatible" (8) only for what is certain, such as a
# removed symbol; a function whose parameter types changed (a struct grew)
# is "a change" (4), like an addition. Here anything removed or changed is
# incompatible; only additions are not.
changed=$(printf '%s\n' "$report" | sed -n 's/.*changes summary: \([0-9]*\) Removed, \([0-9]*\) Changed.*/\1 \2/p' |
  awk '{ n += $1 + $2 } END { print n + 0 }')
incompatible=0
[ $((rc & 8)) -ne 0 ] || [ "$changed" -gt 0 ] && incompatible=1
if [ $incompatible -eq 1 ]; then
  if [ "$old_soname" = "$new_soname" ]; then
    echo "abi-check: FAIL: incompatible ABI change with the same soname $new_soname." >&2
    echo "  Either keep the old ABI (add a new function instead of changing one), or bump" >&2
    echo "  SOVERSION in CMakeLists.txt, the version node in src/libhasp.map and the" >&2
    echo "  libhaspN package name in debian/ (README.md, Packaging)." >&2
    exit 1
  fi
  echo "abi-check: ok: incompatible changes, under a new soname ($old_soname -> $new_soname)"
elif [ $((rc & 4)) -ne 0 ]; then
  echo "abi-check: ok: compatible changes only (additions) under $new_soname"
else
  echo "abi-check: ok: no ABI change"
fi
[ "$old_soname" != "$new_soname" ] && [ $incompatible -eq 0 ] &&
  echo "abi-check: note: the soname changed ($old_soname -> $new_soname) without an incompatible change"
exit 0
