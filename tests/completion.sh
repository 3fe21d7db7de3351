#!/usr/bin/env bash
# Bash completion (tools/hasp/hasp.bash): subcommands, each command's flags
# as its --help lists them, and fixed values. Usage: tests/completion.sh BUILD_DIR
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
PATH="$BUILD:$PATH"
fails=0
# shellcheck source=../tools/hasp/hasp.bash
. tools/hasp/hasp.bash
expect() { # WANT WORDS...: the completions of the last word
  local want=$1
  shift
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _hasp
  if [ "${COMPREPLY[*]}" = "$want" ]; then
    echo "ok - completion of '$*' is '$want'"
  else
    echo "not ok - completion of '$*': wanted '$want', got '${COMPREPLY[*]}'"
    fails=$((fails + 1))
  fi
}
expect "server" hasp se
expect "client ciphers" hasp c
expect "--verify-profile" hasp server --verify-p
expect "--crl --crl-check" hasp client --crl
expect "--profile --purpose" hasp verify --p
expect "webpki rfc5280" hasp verify --profile ""
expect "leaf chain" hasp server --crl-check ""
expect "optional require" hasp server --verify-client ""
expect "--timeout" hasp probe --t
expect "verify version" hasp help v
expect "" hasp client --accep
expect "--accept" hasp server --acc
# every flag of the usage completes
for cmd in client server verify probe; do
  n=0
  for f in $(hasp "$cmd" --help | sed -nE 's/^ +(-)/\1/p' | sed -E 's/  .*//; s/ [^-].*//' | grep -oE -- '--?[A-Za-z][A-Za-z0-9_-]*' | sort -u); do
    COMP_WORDS=(hasp "$cmd" "$f") COMP_CWORD=2 COMPREPLY=()
    _hasp
    case " ${COMPREPLY[*]} " in *" $f "*) ;; *) n=$((n + 1)) ;; esac
  done
  if [ "$n" -eq 0 ]; then echo "ok - every flag of hasp $cmd completes"; else
    echo "not ok - $n flags of hasp $cmd do not complete"
    fails=$((fails + 1))
  fi
done
[ "$fails" -eq 0 ]
