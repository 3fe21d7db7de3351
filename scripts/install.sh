#!/bin/sh
# make install / make uninstall. Usage: scripts/install.sh install|uninstall BUILD
# PREFIX (default: the prefix BUILD was configured with, /usr/local) and
# DESTDIR (a staging root) come from the environment. Each install's list of
# files is kept in BUILD under a name derived from DESTDIR and PREFIX, so
# `make uninstall` with the same two removes exactly what that install put
# (and directories named hasp it leaves empty).
set -eu
what=$1
build=$2
key=$(printf '%s\n%s\n' "${DESTDIR:-}" "${PREFIX:-}" | cksum | cut -d' ' -f1)
manifest="$build/install-manifest-$key.txt"
where="${DESTDIR:+DESTDIR=$DESTDIR }PREFIX=${PREFIX:-(configured)}"
case "$what" in
  install)
    rm -f "$build/install_manifest.txt"
    if [ -n "${PREFIX:-}" ]; then
      cmake --install "$build" --prefix "$PREFIX"
    else
      cmake --install "$build"
    fi
    mv "$build/install_manifest.txt" "$manifest"
    ;;
  uninstall)
    if [ ! -f "$manifest" ]; then
      echo "hasp: nothing to uninstall for $where: no $manifest (install with the same PREFIX and DESTDIR)" >&2
      exit 1
    fi
    dirs=""
    # The manifest lists the final paths; the files are under DESTDIR.
    while IFS= read -r f || [ -n "$f" ]; do
      [ -n "$f" ] || continue
      f="${DESTDIR:-}$f"
      if [ -f "$f" ] || [ -L "$f" ]; then
        echo "-- Removing: $f"
        rm -f "$f"
        d=$(dirname "$f")
        case "$d" in */hasp) dirs="$dirs
$d" ;; esac
      fi
    done <"$manifest"
    printf '%s\n' "$dirs" | sort -u | while IFS= read -r d; do
      [ -n "$d" ] && rmdir "$d" 2>/dev/null || true
    done
    rm -f "$manifest"
    ;;
  *)
    echo "usage: $0 install|uninstall BUILD" >&2
    exit 2
    ;;
esac
