# bash completion for hasp(1): the subcommands, each one's flags (read from
# `hasp CMD --help`, so they never drift from the tool), and the values of
# the flags that take a fixed set or a file. Installed by `make install` as
# share/bash-completion/completions/hasp.
_hasp() {
  local cur prev cmd
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD - 1]}
  if [ "$COMP_CWORD" -eq 1 ]; then
    mapfile -t COMPREPLY < <(compgen -W "client server verify probe ciphers version help --help" -- "$cur")
    return
  fi
  cmd=${COMP_WORDS[1]}
  case "$cmd" in
  help)
    [ "$COMP_CWORD" -eq 2 ] &&
      mapfile -t COMPREPLY < <(compgen -W "client server verify probe ciphers version" -- "$cur")
    return
    ;;
  client | server | verify | probe | ciphers | version) ;;
  *) return ;;
  esac
  case "$prev" in
  --cafile | --CAfile | --cert | --key | --crl | --untrusted | --sess-in | --sess-out | \
    --early-data | --trace-out)
    [ "$cmd" = server ] && [ "$prev" = --early-data ] && return
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    compopt -o filenames 2>/dev/null
    return
    ;;
  --capath)
    mapfile -t COMPREPLY < <(compgen -d -- "$cur")
    compopt -o filenames 2>/dev/null
    return
    ;;
  --profile | --verify-profile) mapfile -t COMPREPLY < <(compgen -W "webpki rfc5280" -- "$cur"); return ;;
  --crl-check) mapfile -t COMPREPLY < <(compgen -W "leaf chain" -- "$cur"); return ;;
  --verify-client | --reneg-verify-client)
    mapfile -t COMPREPLY < <(compgen -W "optional require" -- "$cur")
    return
    ;;
  --purpose) mapfile -t COMPREPLY < <(compgen -W "server client" -- "$cur"); return ;;
  --trace-format) mapfile -t COMPREPLY < <(compgen -W "text json" -- "$cur"); return ;;
  --psk-modes) mapfile -t COMPREPLY < <(compgen -W "psk_dhe_ke psk_ke psk_dhe_ke,psk_ke" -- "$cur"); return ;;
  --servername | --accept | --host | --ip | --at-time | --max-depth | --ciphers | --cipher | \
    --ciphersuites | --groups | --sigalgs | --alpn | --naccept | --max-early-data | --timeout)
    return
    ;;
  esac
  if [[ "$cur" == -* ]]; then
    local flags
    # the option lines of the usage: "  --name ARG   what it does"
    flags=$("${COMP_WORDS[0]}" "$cmd" --help 2>/dev/null | sed -nE 's/^ +(-)/\1/p' | sed -E 's/  .*//; s/ [^-].*//' | grep -oE -- '--?[A-Za-z][A-Za-z0-9_-]*' | sort -u)
    mapfile -t COMPREPLY < <(compgen -W "$flags" -- "$cur")
    return
  fi
  [ "$cmd" = verify ] && {
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    compopt -o filenames 2>/dev/null
  }
}
complete -F _hasp hasp
