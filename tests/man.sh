#!/usr/bin/env bash
# The man pages: hasp(1) and libhasp(3) render with `man -l` (and groff's
# mdoc checks at their strictest) without a warning, and every flag that a
# command's --help prints appears in hasp(1). Usage: tests/man.sh BUILD_DIR
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
HASP="$BUILD/hasp"
fails=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

for page in docs/hasp.1 docs/libhasp.3; do
  if ! command -v man >/dev/null || ! command -v groff >/dev/null; then
    ok "$page renders # SKIP man or groff not installed"
    continue
  fi
  MANWIDTH=80 man --warnings=all -l "$page" >"$T/out" 2>"$T/err"
  rc=$?
  groff -mandoc -ww -z -Tutf8 "$page" 2>>"$T/err"
  if [ "$rc" -eq 0 ] && [ ! -s "$T/err" ] && [ "$(wc -l <"$T/out")" -gt 50 ]; then
    ok "$page renders with man -l, no warnings"
  else
    notok "$page renders with man -l, no warnings (exit $rc): $(head -3 "$T/err" | tr '\n' ' ')"
  fi
done

# Flags, from the usage each command prints, in the mdoc source of hasp(1)
# (as ".Fl -name", so that line breaks and hyphenation cannot hide one).
for cmd in client server verify probe ciphers; do
  "$HASP" "$cmd" --help >"$T/usage" 2>&1 || { notok "hasp $cmd --help exits 0"; continue; }
  missing=""
  for f in $(sed -nE 's/^ +(-)/\1/p' "$T/usage" | sed -E 's/  .*//; s/ [^-].*//' | grep -oE -- '--?[A-Za-z][A-Za-z0-9_-]*' | sort -u); do
    grep -qE -- "Fl ${f#-}([ ,]|$)" docs/hasp.1 || missing="$missing $f"
  done
  if [ -z "$missing" ]; then
    ok "every flag of hasp $cmd --help is in hasp(1)"
  else
    notok "flags of hasp $cmd --help missing from hasp(1):$missing"
  fi
done
for cmd in client server verify probe ciphers version; do
  grep -q "^\.Ss hasp $cmd\$" docs/hasp.1 || grep -q "^\.Ss Options of client and server" docs/hasp.1 &&
    grep -q "^\.Cm $cmd\$" docs/hasp.1 && ok "hasp(1) has the $cmd command" ||
    notok "hasp(1) has the $cmd command"
done
# Help on every path: exit 0 and the command's own usage.
helps() { # WANT_FIRST_LINE ARGS...
  local want=$1
  shift
  local out rc
  out=$("$HASP" "$@" 2>&1)
  rc=$?
  if [ "$rc" -eq 0 ] && [ "$(printf '%s\n' "$out" | head -1)" = "$want" ]; then
    ok "hasp $* prints '$want', exit 0"
  else
    notok "hasp $*: exit $rc, first line '$(printf '%s\n' "$out" | head -1)'"
  fi
}
helps "usage: hasp COMMAND [options]" --help
helps "usage: hasp COMMAND [options]" -h
helps "usage: hasp COMMAND [options]" help
for cmd in client server verify probe ciphers version; do
  first=$("$HASP" help "$cmd" | head -1)
  case "$first" in "usage: hasp $cmd"*) ;; *) first="usage: hasp $cmd ?" ;; esac
  helps "$first" help "$cmd"
  helps "$first" "$cmd" --help
  helps "$first" "$cmd" -h
done
for cmd in client server verify probe ciphers; do
  out=$("$HASP" "$cmd" --no-such-flag 2>&1)
  rc=$?
  if [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -qF "unknown option '--no-such-flag'; see 'hasp $cmd --help'"; then
    ok "hasp $cmd names an unknown option and points at 'hasp $cmd --help'"
  else
    notok "hasp $cmd --no-such-flag: exit $rc, '$out'"
  fi
done
[ "$fails" -eq 0 ]
