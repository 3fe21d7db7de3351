# shellcheck shell=bash
# Shared helpers for the interop test scripts. Source it first thing:
#
#   . "$(dirname "$0")/_lib.sh" "$@"      # $1 = BUILD_DIR (default: build)
#
# It sets: ROOT (repo root), BUILD (absolute build dir), HASP (the tool),
# CERTS (generated test PKI), T (scratch dir, removed on exit), LOGS (where
# the files of failed cases are kept: $BUILD/interop-logs/<script>/).
# Output: one "ok - NAME" / "not ok - NAME: WHY" line per check on stdout;
# diagnostics on stderr. End the script with `finish`.
set -u

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LIB_DIR/../.." && pwd)
SCRIPT=$(basename "$0" .sh)
BUILD=${1:-${HASP_BUILD:-build}}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
HASP=${HASP:-$BUILD/hasp}
CERTS=${HASP_TEST_CERTS:-$BUILD/test-certs}
LOGS="$BUILD/interop-logs/$SCRIPT"
# Per-process time limits (seconds): a whole hasp/openssl/gnutls run, and the
# longest we poll for a peer to start listening or for bytes to arrive.
TMO=${HASP_TEST_TIMEOUT:-15}
WAIT=${HASP_TEST_WAIT:-10}

PASS=0
FAIL=0
BG_PIDS=()
T=$(mktemp -d "${TMPDIR:-/tmp}/hasp-$SCRIPT.XXXXXX")

cleanup() {
  local p
  for p in "${BG_PIDS[@]}"; do _our_job "$p" && kill -TERM "$p" 2>/dev/null; done
  for p in "${BG_PIDS[@]}"; do
    local i=0
    while _our_job "$p" && [ $i -lt 50 ]; do nap; i=$((i + 1)); done
    _our_job "$p" && kill -KILL "$p" 2>/dev/null
  done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '%s\n' "$*" >&2; }

# nap SECONDS: sleep without forking (read with a timeout on a pipe that
# never delivers); falls back to sleep(1).
NAPFD=""
{ exec {NAPFD}<> <(:); } 2>/dev/null || NAPFD=""
nap() {
  if [ -n "$NAPFD" ]; then read -r -t "${1:-0.02}" -u "$NAPFD" _ 2>/dev/null; else sleep "${1:-0.02}"; fi
  return 0
}

# ---------------------------------------------------------------- results

WHY=""
ok() { PASS=$((PASS + 1)); printf 'ok - %s\n' "$1"; }
notok() { # NAME WHY
  FAIL=$((FAIL + 1))
  local why
  why=$(printf '%s' "$2" | tr '\n\t' '  ' | cut -c1-400)
  printf 'not ok - %s: %s\n' "$1" "$why"
}
skip() { PASS=$((PASS + 1)); printf 'ok - %s # SKIP %s\n' "$1" "$2"; }
# check NAME CMD... : run CMD in this shell; CMD explains a failure by setting
# WHY (else the command line is reported).
check() {
  local name=$1
  shift
  WHY=""
  if "$@"; then
    ok "$name"
    return 0
  fi
  notok "$name" "${WHY:-failed: $*}"
  return 1
}
fail() { WHY=$*; return 1; } # in check functions: `cond || fail "reason" || return`
finish() {
  log "$SCRIPT: $PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ] && rm -rf "$LOGS" 2>/dev/null
  [ "$FAIL" -eq 0 ]
  exit $?
}

# ------------------------------------------------------------ per-case dirs

# new_case NAME: fresh directory $C for one case's files; `keep_case NAME`
# copies it into $LOGS when the case failed.
CASE_N=0
new_case() {
  CASE_N=$((CASE_N + 1))
  C="$T/case$CASE_N"
  mkdir -p "$C"
  printf '%s\n' "$1" >"$C/name"
}
keep_case() { # NAME: copy the case's files for post-mortem and show a summary
  local dst
  dst="$LOGS/$(printf '%03d-%s' "$CASE_N" "$1" | tr -c 'A-Za-z0-9._-' '_' | cut -c1-120)"
  mkdir -p "$dst" && cp -r "$C/." "$dst/" 2>/dev/null
  log "---- failed: $1 (files in $dst)"
  [ -f "$C/cmds" ] && sed 's/^/  cmd: /' "$C/cmds" >&2
  local f
  for f in "$C"/*.err; do
    [ -s "$f" ] || continue
    log "  == $(basename "$f") (last 15 lines)"
    tail -n 15 "$f" | sed 's/^/  | /' >&2
  done
}
# note_cmd CMD...: record a command line (shell-quoted) in $C/cmds.
note_cmd() { printf '%q ' "$@" >>"$C/cmds"; printf '\n' >>"$C/cmds"; }

# ------------------------------------------------------------------ ports

# port_in_use PORT: true if any IPv4/IPv6 TCP socket has this local port.
# port_listening PORT: true if something listens on it. (Pure bash: forks are
# expensive on a loaded machine and these run in polling loops.)
port_in_use() { _port_scan "$1" any; }
port_listening() { _port_scan "$1" listen; }
_port_scan() {
  local hex f _sl loc _rem st _rest
  printf -v hex '%04X' "$1"
  for f in /proc/net/tcp /proc/net/tcp6; do
    [ -r "$f" ] || continue
    while read -r _sl loc _rem st _rest; do
      [[ "$loc" == *:"$hex" ]] || continue
      [ "$2" = any ] && return 0
      [ "$st" = 0A ] && return 0
    done <"$f"
  done
  return 1
}
# next_port: set PORT to a free port. Ports come from 10000-32767 (below the
# kernel's ephemeral range), starting at an offset derived from $$ and never
# reused within one script.
PORT_NEXT=$((10000 + ($$ % 2270) * 10))
next_port() {
  local tries=0
  while :; do
    PORT_NEXT=$((PORT_NEXT + 1))
    [ "$PORT_NEXT" -gt 32767 ] && PORT_NEXT=10000
    if ! port_in_use "$PORT_NEXT"; then
      PORT=$PORT_NEXT
      return 0
    fi
    tries=$((tries + 1))
    [ $tries -gt 1000 ] && { log "no free port found"; return 1; }
  done
}

# ------------------------------------------------------ background processes

# bg_start OUTPREFIX STDIN CMD...: run CMD in the background under `timeout`,
# stdin from STDIN (a file, a fifo or /dev/null), stdout/stderr to
# OUTPREFIX.out/.err. Sets BGPID. The process is killed on exit if still alive.
bg_start() {
  local out=$1 in=$2
  shift 2
  note_cmd "$@"
  timeout -k 2 "$TMO" "$@" <"$in" >"$out.out" 2>"$out.err" &
  BGPID=$!
  BG_PIDS+=("$BGPID")
}
# bg_track PID: kill PID on exit if still alive.
bg_track() { BG_PIDS+=("$1"); }
# _our_job PID: PID is a still-running background job of this shell. Signal
# only those: PIDs are recycled fast (pid_max can be 32768) and a number we
# started long ago may belong to somebody else's process now. Builtins only.
_our_job() {
  local j
  jobs -pr >"$T/.jobs" 2>/dev/null || return 1
  while read -r j; do [ "$j" = "$1" ] && return 0; done <"$T/.jobs"
  return 1
}
# bg_stop PID: terminate (TERM, then KILL after 1 s) and reap.
bg_stop() {
  local p=$1 i=0
  if _our_job "$p"; then
    kill -TERM "$p" 2>/dev/null
    while _our_job "$p" && [ $i -lt 50 ]; do nap; i=$((i + 1)); done
    _our_job "$p" && kill -KILL "$p" 2>/dev/null
  fi
  wait "$p" 2>/dev/null
  return 0
}
# bg_wait PID SECONDS: wait for PID to exit on its own; sets BGRC to its exit
# status (or 124 if it had to be killed).
bg_wait() {
  local p=$1 limit=$2 i=0
  local n=$((limit * 50))
  while _our_job "$p" && [ $i -lt $n ]; do nap; i=$((i + 1)); done
  if _our_job "$p"; then
    bg_stop "$p"
    BGRC=124
    return 1
  fi
  wait "$p" 2>/dev/null
  BGRC=$?
  return 0
}
# wait_listen PORT PID [SECONDS]: poll until PORT listens; fails early if PID
# died. Sets WHY on failure.
wait_listen() {
  local port=$1 pid=$2 limit=${3:-$WAIT} i=0
  local n=$((limit * 50))
  while [ $i -lt $n ]; do
    port_listening "$port" && return 0
    kill -0 "$pid" 2>/dev/null || { WHY="peer exited before listening on port $port"; return 1; }
    nap
    i=$((i + 1))
  done
  WHY="nothing listening on port $port after ${limit}s"
  return 1
}
# wait_size FILE BYTES [SECONDS] [PID]: wait until FILE (text: no NUL bytes)
# holds at least BYTES bytes; gives up after SECONDS or as soon as PID (if
# given) has exited. Counts by reading the file as it grows: no forks.
wait_size() {
  local f=$1 want=$2 limit=${3:-$WAIT} pid=${4:-} have=0 buf rc fd=""
  local n=$((limit * 50)) i=0
  while [ $i -lt $n ]; do
    if [ -z "$fd" ] && [ -e "$f" ]; then exec {fd}<"$f" || return 1; fi
    if [ -n "$fd" ]; then
      while :; do
        buf=""
        IFS= read -r -N 65536 -u "$fd" buf
        rc=$?
        have=$((have + ${#buf}))
        [ $rc -ne 0 ] && break
      done
      if [ "$have" -ge "$want" ]; then exec {fd}<&-; return 0; fi
    fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then break; fi
    nap
    i=$((i + 1))
  done
  [ -n "$fd" ] && exec {fd}<&-
  return 1
}
# feed FIFO FILE WATCHFILE BYTES PID: in the background, write FILE into FIFO
# and keep the FIFO open until WATCHFILE holds BYTES bytes (the data went
# through), PID exits, or $WAIT seconds pass; then close it (EOF). This is how
# a peer that quits or closes on stdin EOF (s_server, s_client, gnutls-cli) is
# kept alive exactly as long as needed. Sets FEEDPID.
feed() {
  local fifo=$1 file=$2 watch=$3 bytes=$4 pid=$5
  { cat "$file"; wait_size "$watch" "$bytes" "$WAIT" "$pid"; } >"$fifo" &
  FEEDPID=$!
  BG_PIDS+=("$FEEDPID")
}

# ----------------------------------------------------------------- data

# make_payload FILE [RAWBYTES]: random base64 text (default 20000 random bytes,
# 27 KB of text: more than one 16 KiB record).
make_payload() { head -c "${2:-20000}" /dev/urandom | base64 >"$1"; }
fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }
# same_bytes EXPECTED ACTUAL WHAT: byte-for-byte comparison; sets WHY.
same_bytes() {
  local exp=$1 act=$2 what=${3:-data}
  [ -f "$act" ] || { WHY="$what: nothing received"; return 1; }
  if cmp -s "$exp" "$act"; then return 0; fi
  local d
  d=$(cmp "$exp" "$act" 2>&1 | head -1)
  WHY="$what differs: sent $(fsize "$exp") bytes, received $(fsize "$act") bytes ($d)"
  return 1
}
# has_line FILE LINE: FILE contains exactly LINE (fixed string, whole line).
# has_text FILE TEXT: some line of FILE contains TEXT (fixed string).
# Both are bash builtins only (no grep fork: they run several times per case).
has_line() {
  local _l
  [ -r "$1" ] || return 1
  while IFS= read -r _l || [ -n "$_l" ]; do [ "$_l" = "$2" ] && return 0; done <"$1"
  return 1
}
has_text() {
  local _l
  [ -r "$1" ] || return 1
  while IFS= read -r _l || [ -n "$_l" ]; do [[ "$_l" == *"$2"* ]] && return 0; done <"$1"
  return 1
}
first_line() { grep -m1 -E -- "$2" "$1" 2>/dev/null; } # FILE REGEX

# ------------------------------------------------------------- the matrix

# The cipher suites hasp has, as data. Fields:
#   IANA name | code point (hex) | OpenSSL name | certificate it needs (rsa|ecdsa)
#   | key exchange (ecdhe|dhe|rsa) | GnuTLS key exchange | GnuTLS cipher | GnuTLS MAC
SUITES_DATA="
TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256       c02b ECDHE-ECDSA-AES128-GCM-SHA256 ecdsa ecdhe ECDHE-ECDSA AES-128-GCM       AEAD
TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384       c02c ECDHE-ECDSA-AES256-GCM-SHA384 ecdsa ecdhe ECDHE-ECDSA AES-256-GCM       AEAD
TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 cca9 ECDHE-ECDSA-CHACHA20-POLY1305 ecdsa ecdhe ECDHE-ECDSA CHACHA20-POLY1305 AEAD
TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256         c02f ECDHE-RSA-AES128-GCM-SHA256   rsa   ecdhe ECDHE-RSA   AES-128-GCM       AEAD
TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384         c030 ECDHE-RSA-AES256-GCM-SHA384   rsa   ecdhe ECDHE-RSA   AES-256-GCM       AEAD
TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256   cca8 ECDHE-RSA-CHACHA20-POLY1305   rsa   ecdhe ECDHE-RSA   CHACHA20-POLY1305 AEAD
TLS_DHE_RSA_WITH_AES_128_GCM_SHA256           009e DHE-RSA-AES128-GCM-SHA256     rsa   dhe   DHE-RSA     AES-128-GCM       AEAD
TLS_DHE_RSA_WITH_AES_256_GCM_SHA384           009f DHE-RSA-AES256-GCM-SHA384     rsa   dhe   DHE-RSA     AES-256-GCM       AEAD
TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256     ccaa DHE-RSA-CHACHA20-POLY1305     rsa   dhe   DHE-RSA     CHACHA20-POLY1305 AEAD
TLS_RSA_WITH_AES_128_GCM_SHA256               009c AES128-GCM-SHA256             rsa   rsa   RSA         AES-128-GCM       AEAD
TLS_RSA_WITH_AES_256_GCM_SHA384               009d AES256-GCM-SHA384             rsa   rsa   RSA         AES-256-GCM       AEAD
TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA          c009 ECDHE-ECDSA-AES128-SHA        ecdsa ecdhe ECDHE-ECDSA AES-128-CBC       SHA1
TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA          c00a ECDHE-ECDSA-AES256-SHA        ecdsa ecdhe ECDHE-ECDSA AES-256-CBC       SHA1
TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256       c023 ECDHE-ECDSA-AES128-SHA256     ecdsa ecdhe ECDHE-ECDSA AES-128-CBC       SHA256
TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384       c024 ECDHE-ECDSA-AES256-SHA384     ecdsa ecdhe ECDHE-ECDSA AES-256-CBC       SHA384
TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA            c013 ECDHE-RSA-AES128-SHA          rsa   ecdhe ECDHE-RSA   AES-128-CBC       SHA1
TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA            c014 ECDHE-RSA-AES256-SHA          rsa   ecdhe ECDHE-RSA   AES-256-CBC       SHA1
TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256         c027 ECDHE-RSA-AES128-SHA256       rsa   ecdhe ECDHE-RSA   AES-128-CBC       SHA256
TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384         c028 ECDHE-RSA-AES256-SHA384       rsa   ecdhe ECDHE-RSA   AES-256-CBC       SHA384
TLS_DHE_RSA_WITH_AES_128_CBC_SHA              0033 DHE-RSA-AES128-SHA            rsa   dhe   DHE-RSA     AES-128-CBC       SHA1
TLS_DHE_RSA_WITH_AES_256_CBC_SHA              0039 DHE-RSA-AES256-SHA            rsa   dhe   DHE-RSA     AES-256-CBC       SHA1
TLS_DHE_RSA_WITH_AES_128_CBC_SHA256           0067 DHE-RSA-AES128-SHA256         rsa   dhe   DHE-RSA     AES-128-CBC       SHA256
TLS_DHE_RSA_WITH_AES_256_CBC_SHA256           006b DHE-RSA-AES256-SHA256         rsa   dhe   DHE-RSA     AES-256-CBC       SHA256
TLS_RSA_WITH_AES_128_CBC_SHA                  002f AES128-SHA                    rsa   rsa   RSA         AES-128-CBC       SHA1
TLS_RSA_WITH_AES_256_CBC_SHA                  0035 AES256-SHA                    rsa   rsa   RSA         AES-256-CBC       SHA1
TLS_RSA_WITH_AES_128_CBC_SHA256               003c AES128-SHA256                 rsa   rsa   RSA         AES-128-CBC       SHA256
TLS_RSA_WITH_AES_256_CBC_SHA256               003d AES256-SHA256                 rsa   rsa   RSA         AES-256-CBC       SHA256
TLS_ECDHE_ECDSA_WITH_AES_128_CCM              c0ac ECDHE-ECDSA-AES128-CCM        ecdsa ecdhe ECDHE-ECDSA AES-128-CCM       AEAD
TLS_ECDHE_ECDSA_WITH_AES_256_CCM              c0ad ECDHE-ECDSA-AES256-CCM        ecdsa ecdhe ECDHE-ECDSA AES-256-CCM       AEAD
TLS_DHE_RSA_WITH_AES_128_CCM                  c09e DHE-RSA-AES128-CCM            rsa   dhe   DHE-RSA     AES-128-CCM       AEAD
TLS_RSA_WITH_AES_256_CCM                      c09d AES256-CCM                    rsa   rsa   RSA         AES-256-CCM       AEAD
TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8            c0ae ECDHE-ECDSA-AES128-CCM8       ecdsa ecdhe ECDHE-ECDSA AES-128-CCM-8     AEAD
TLS_DHE_RSA_WITH_AES_256_CCM_8                c0a3 DHE-RSA-AES256-CCM8           rsa   dhe   DHE-RSA     AES-256-CCM-8     AEAD
TLS_RSA_WITH_AES_128_CCM_8                    c0a0 AES128-CCM8                   rsa   rsa   RSA         AES-128-CCM-8     AEAD
TLS_RSA_WITH_3DES_EDE_CBC_SHA                 000a DES-CBC3-SHA                  rsa   rsa   RSA         3DES-CBC          SHA1
"
# Parsed into parallel arrays S_IANA, S_ID, S_OSSL, S_CERT, S_KX, S_GKX,
# S_GCIPHER, S_GMAC (index 0..NSUITES-1).
S_IANA=() S_ID=() S_OSSL=() S_CERT=() S_KX=() S_GKX=() S_GCIPHER=() S_GMAC=()
while read -r _i _id _o _c _k _gk _gc _gm; do
  [ -n "${_i:-}" ] || continue
  S_IANA+=("$_i") S_ID+=("$_id") S_OSSL+=("$_o") S_CERT+=("$_c") S_KX+=("$_k")
  S_GKX+=("$_gk") S_GCIPHER+=("$_gc") S_GMAC+=("$_gm")
done <<<"$SUITES_DATA"
NSUITES=${#S_IANA[@]}
unset _i _id _o _c _k _gk _gc _gm
# suite_index IANA|OPENSSL: index of a suite in the table (empty if none).
suite_index() {
  local k
  for ((k = 0; k < NSUITES; k++)); do
    [ "${S_IANA[k]}" = "$1" ] || [ "${S_OSSL[k]}" = "$1" ] && { echo "$k"; return 0; }
  done
  return 1
}

# groups_for KX: the hasp group names to test with a key exchange ("-" = none).
groups_for() {
  case "$1" in
    ecdhe) echo "x25519 secp256r1 secp384r1" ;;
    dhe) echo "ffdhe2048 ffdhe3072" ;;
    *) echo "-" ;;
  esac
}
# Group name in other vocabularies.
group_openssl() { # for -groups / -curves
  case "$1" in x25519) echo X25519 ;; secp256r1) echo P-256 ;; secp384r1) echo P-384 ;;
    ffdhe2048) echo ffdhe2048 ;; ffdhe3072) echo ffdhe3072 ;; esac
}
group_gnutls() {
  case "$1" in x25519) echo GROUP-X25519 ;; secp256r1) echo GROUP-SECP256R1 ;;
    secp384r1) echo GROUP-SECP384R1 ;; ffdhe2048) echo GROUP-FFDHE2048 ;;
    ffdhe3072) echo GROUP-FFDHE3072 ;; esac
}
# client_groups CERT GROUP [openssl|gnutls]: the groups a client offers to get
# GROUP, colon-separated (hasp names unless a vocabulary is given). With an
# ECDSA certificate the client must also offer the certificate's curve (P-256):
# in TLS 1.2 supported_groups constrains the server's ECDSA key as well
# (RFC 8422 section 5.1; OpenSSL enforces it), so: GROUP first, then P-256.
client_groups() {
  local list=$2
  [ "$1" = ecdsa ] && [ "$2" != secp256r1 ] && list="$2:secp256r1"
  if [ -n "${3:-}" ]; then
    local g out=""
    for g in ${list//:/ }; do out="$out${out:+:}$("group_$3" "$g")"; done
    list=$out
  fi
  echo "$list"
}
# How `openssl s_client -brief` reports the server's ephemeral key.
group_sclient_tempkey() {
  case "$1" in x25519) echo "Server Temp Key: X25519, 253 bits" ;;
    secp256r1) echo "Server Temp Key: ECDH, prime256v1, 256 bits" ;;
    secp384r1) echo "Server Temp Key: ECDH, secp384r1, 384 bits" ;;
    ffdhe2048) echo "Server Temp Key: DH, 2048 bits" ;;
    ffdhe3072) echo "Server Temp Key: DH, 3072 bits" ;; esac
}
# How GnuTLS names the key exchange in its "- Description:" line, e.g.
# (TLS1.2-X.509)-(ECDHE-X25519)-(RSA-SHA256)-(AES-128-GCM).
gnutls_kx_desc() { # GNUTLS_KX GROUP
  case "$1" in
    ECDHE-*) case "$2" in x25519) echo ECDHE-X25519 ;; secp256r1) echo ECDHE-SECP256R1 ;;
      secp384r1) echo ECDHE-SECP384R1 ;; esac ;;
    DHE-RSA) echo "DHE-$(echo "$2" | tr a-z A-Z)" ;;
    RSA) echo RSA ;;
  esac
}
# openssl_has_suite OSSLNAME: this openssl's libssl can do the suite in TLS 1.2.
OPENSSL_SUITES=""
openssl_has_suite() {
  [ -n "$OPENSSL_SUITES" ] ||
    OPENSSL_SUITES=":$(openssl ciphers 'ALL:COMPLEMENTOFALL:@SECLEVEL=0' 2>/dev/null):"
  [[ "$OPENSSL_SUITES" == *":$1:"* ]]
}
# A GnuTLS priority string enabling every TLS 1.2 suite and group hasp has.
GNUTLS_ALL="NORMAL:-VERS-ALL:+VERS-TLS1.2:+RSA:+DHE-RSA:+3DES-CBC:+SHA1:+SHA256:+SHA384:+GROUP-FFDHE2048:+GROUP-FFDHE3072"
GNUTLS_SUITES=""
# gnutls_has_suite IDX: this gnutls can do suite IDX of the table in TLS 1.2.
gnutls_has_suite() {
  [ -n "$GNUTLS_SUITES" ] || GNUTLS_SUITES=$(gnutls-cli --list --priority "$GNUTLS_ALL" 2>/dev/null)
  local id=${S_ID[$1]}
  grep -q "0x${id:0:2}, 0x${id:2:2}" <<<"$GNUTLS_SUITES"
}

# ------------------------------------------------------------- hasp checks

# need_hasp: stop with one failing check when the tool is not built.
need_hasp() {
  if [ ! -x "$HASP" ]; then
    notok "hasp tool present" "$HASP is not an executable (build it with make)"
    exit 1
  fi
}
# need_tool CMD...: each command must exist, else one failing check and exit.
need_tool() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null && continue
    notok "$t installed" "$t not found in PATH (apt-get install gnutls-bin openssl python3)"
    exit 1
  done
}
# gen_certs: create the test PKI in $CERTS (once).
gen_certs() {
  if ! bash "$ROOT/tests/certs/gen.sh" "$CERTS" >"$T/gen.log" 2>&1; then
    notok "generate test certificates" "$(tail -3 "$T/gen.log")"
    exit 1
  fi
}

# hasp_client_reported ERRFILE IANA OSSL GROUP: the summary lines hasp client
# printed on stderr. GROUP "-" means no group line is expected.
hasp_client_reported() {
  local e=$1 iana=$2 ossl=$3 group=$4
  has_line "$e" "hasp: protocol: TLSv1.2" ||
    fail "hasp did not print 'hasp: protocol: TLSv1.2' (got: $(first_line "$e" '^hasp: (protocol|error)'))" || return
  has_line "$e" "hasp: cipher: $iana ($ossl)" ||
    fail "hasp did not print 'hasp: cipher: $iana ($ossl)' (got: $(first_line "$e" '^hasp: (cipher|error)'))" || return
  if [ "$group" = - ]; then
    ! grep -q '^hasp: group:' "$e" ||
      fail "hasp printed a group for plain RSA: $(first_line "$e" '^hasp: group')" || return
  else
    has_line "$e" "hasp: group: $group" ||
      fail "hasp did not print 'hasp: group: $group' (got: $(first_line "$e" '^hasp: (group|error)'))" || return
  fi
}
hasp_error() { first_line "$1" '^hasp: error' || tail -n 1 "$1" 2>/dev/null; }

# ------------------------------------- sessions / mtls / renegotiation helpers

# wait_for SECONDS PID CMD...: poll every 20 ms until CMD succeeds. Gives up
# after SECONDS (wall clock, whatever the load), or when PID ("-" for none)
# has exited (CMD is tried once more then, so output written just before the
# exit still counts). Usable in a background subshell (kill -0, not jobs).
wait_for() {
  local end=$((SECONDS + $1 + 1)) pid=$2
  shift 2
  while [ "$SECONDS" -lt "$end" ]; do
    "$@" && return 0
    if [ "$pid" != - ] && ! kill -0 "$pid" 2>/dev/null; then
      "$@"
      return
    fi
    nap
  done
  "$@"
}
# bg_wait_for PID SECONDS: like bg_wait (sets BGRC, 124 when it had to be
# stopped) but the limit is wall-clock seconds, however loaded the machine.
bg_wait_for() {
  local end=$((SECONDS + $2 + 1))
  while _our_job "$1" && [ "$SECONDS" -lt "$end" ]; do nap; done
  if _our_job "$1"; then
    bg_stop "$1"
    BGRC=124
    return 1
  fi
  wait "$1" 2>/dev/null
  BGRC=$?
  return 0
}
# count_lines FILE REGEX: how many lines of FILE match REGEX (0 when none).
count_lines() {
  local n
  n=$(grep -cE -- "$2" "$1" 2>/dev/null) || n=0
  echo "${n:-0}"
}
# has_lines FILE REGEX N: at least N lines of FILE match REGEX.
has_lines() { [ "$(count_lines "$1" "$2")" -ge "$3" ]; }
# size_at_least FILE BYTES
size_at_least() { [ "$(fsize "$1")" -ge "$2" ]; }
# make_digits FILE [LINES]: a payload of digits, spaces and newlines only
# (LINES lines of 8 numbers, default 400: about 34 KB). openssl s_client and
# s_server, when their commands are on, act on a read from stdin that starts
# with a letter (R, Q, k ...): this payload never does.
make_digits() {
  head -c "$((${2:-400} * 32))" /dev/urandom | od -An -tu4 -w32 -v |
    sed 's/^ *//; s/  */ /g' >"$1"
}
# kill_hard PID: SIGKILL a process started with bg_start and the command it
# runs (bg_start's PID is `timeout`, whose child is the real program): the
# way to make a peer vanish without close_notify.
kill_hard() {
  local p=$1 kid
  _our_job "$p" || { wait "$p" 2>/dev/null; return 0; }
  for kid in $(pgrep -P "$p" 2>/dev/null); do kill -KILL "$kid" 2>/dev/null; done
  kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  return 0
}
