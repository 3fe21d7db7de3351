#!/usr/bin/env bash
# The handshake, shown (issue 8): hasp client/server --trace draw a ladder
# grouped into flights, then a summary or the failure (reason, alert, which
# side decided); the certificate chain view; --trace-format json;
# --trace-out .svg (rendered to PNG with rsvg-convert), .html, .mmd.
# hasp talks to hasp on loopback (plus one openssl s_server case).
# Usage: bash tests/trace.sh BUILD_DIR
. "$(dirname "$0")/interop/_lib.sh" "$@"
need_hasp
need_tool python3 rsvg-convert openssl
gen_certs

# ---------------------------------------------------------------- helpers

# pair NSERVER "SERVER ARGS" CLIENT ARGS...: a hasp server (--trace,
# --naccept NSERVER) on a new port and one hasp client run against it
# (stdin /dev/null, or $PAIR_STDIN). Files: $C/srv.err, $C/cli.err,
# $C/cli.out; CRC, SRC.
pair() {
  local n=$1 sargs=$2
  shift 2
  next_port
  # shellcheck disable=SC2086
  bg_start "$C/srv" /dev/null "$HASP" server --accept "$PORT" --naccept "$n" \
    --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key" --trace $sargs
  local spid=$BGPID
  if ! wait_listen "$PORT" "$spid"; then
    CRC=99 SRC=99
    return 1
  fi
  note_cmd "$HASP" client "127.0.0.1:$PORT" "$@"
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" "$@" <"${PAIR_STDIN:-/dev/null}" >"$C/cli.out" 2>"$C/cli.err"
  CRC=$?
  bg_wait "$spid" 5
  SRC=$BGRC
  return 0
}

# flights FILE CONN [HS]: the messages of handshake HS (0 = the first, 1 =
# the first renegotiation) of connection CONN in the ladder, as
# "FLIGHT:NAME" with a * when marked encrypted, e.g.
# "1:ClientHello 2:ServerHello ... 3:Finished*".
flights() {
  awk -v want="$2" -v wanths="${3:-0}" '
    /^trace ==== connection [0-9]+,/ { c = $4; sub(",", "", c); conn = c + 0; hs = 0; post = 0; next }
    conn != want { next }
    /^trace +---- after the handshake/ { post = 1; next }
    /^trace +---- renegotiation/ { post = 0; hs++; next }
    /^trace +---- flight [0-9]+:/ { fl = $4; sub(":", "", fl); next }
    post || hs != wanths { next }
    /^trace +[0-9.]+ms  \|/ {
      name = ""
      if (match($0, /\|-+> [^ ]+/)) { name = substr($0, RSTART, RLENGTH); sub(/.*> /, "", name) }
      else if (match($0, /\|<-+ [^ ]+/)) { name = substr($0, RSTART, RLENGTH); sub(/.*<-+ /, "", name) }
      if (name == "" || name == "alert") next
      out = out (out == "" ? "" : " ") fl ":" name (index($0, "|  [encrypted]") ? "*" : "")
    }
    END { print out }' "$1"
}
# same_flights FILE CONN HS EXPECTED WHAT: EXPECTED is the exact list, or
# an extended regular expression when it holds '(' (write '*' as '\*').
same_flights() {
  local got
  got=$(flights "$1" "$2" "$3")
  if [[ "$4" == *"("* ]]; then
    [[ "$got" =~ ^$4$ ]] || fail "$5: got '$got', expected /$4/" || return
  else
    [ "$got" = "$4" ] || fail "$5: got '$got', expected '$4'" || return
  fi
}
# trace_row FILE KEY VALUE: the summary/failure row "KEY   VALUE..." exists.
trace_row() {
  grep -qE "^trace +$2 {2,}$3" "$1" || fail "no '$2 ... $3' row in $(basename "$1"): $(grep -E "^trace +$2 " "$1" | head -n 2 | tr '\n' ';')" || return
}
png_ok() { # FILE MINW MINH: a PNG of at least this size
  python3 - "$1" "$2" "$3" <<'EOF' 2>"$T/png.err" || fail "$1 is not a PNG of at least ${2}x${3}: $(tail -n 1 "$T/png.err")"
import struct, sys
d = open(sys.argv[1], 'rb').read()
assert d[:8] == b'\x89PNG\r\n\x1a\n', 'signature'
w, h = struct.unpack('>II', d[16:24])
assert d[12:16] == b'IHDR' and w >= int(sys.argv[2]) and h >= int(sys.argv[3]), (w, h)
assert w <= 5000 and h <= 50000, (w, h)
EOF
}

CERTARGS=(--servername localhost --cafile "$CERTS/ca.pem")

# ---------------------------------------------------------------- TLS 1.2: full, then resumed by ticket

case_tls12() {
  local name="TLS 1.2 full + resumed by ticket: ladders, summary, chain view, files"
  new_case "$name"
  pair 2 "" "${CERTARGS[@]}" --tls1_2 --reconnect 1 --trace \
    --trace-out "$C/t.svg" --trace-out "$C/t.html" --trace-out "$C/t.mmd" --trace-out "$C/t.jsonl" ||
    { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  check "hasp client --trace --reconnect 1 (TLS 1.2) exits 0" [ "$CRC" -eq 0 ] || keep_case "$name"
  check "TLS 1.2 full handshake: client ladder, four flights" same_flights "$C/cli.err" 1 0 \
    "1:ClientHello 2:ServerHello 2:Certificate 2:ServerKeyExchange 2:ServerHelloDone 3:ClientKeyExchange 3:ChangeCipherSpec 3:Finished* 4:NewSessionTicket 4:ChangeCipherSpec 4:Finished*" \
    "client ladder" || keep_case "$name"
  check "TLS 1.2 full handshake: server ladder, the same four flights" same_flights "$C/srv.err" 1 0 \
    "1:ClientHello 2:ServerHello 2:Certificate 2:ServerKeyExchange 2:ServerHelloDone 3:ClientKeyExchange 3:ChangeCipherSpec 3:Finished* 4:NewSessionTicket 4:ChangeCipherSpec 4:Finished*" \
    "server ladder" || keep_case "$name"
  check "TLS 1.2 resumed by ticket: abbreviated, ServerHello, ChangeCipherSpec, Finished from the server first" \
    same_flights "$C/cli.err" 2 0 \
    '1:ClientHello 2:ServerHello( 2:NewSessionTicket)? 2:ChangeCipherSpec 2:Finished\* 3:ChangeCipherSpec 3:Finished\*' \
    "client ladder, connection 2" || keep_case "$name"
  summary12() {
    trace_row "$C/cli.err" "version" "TLSv1.2" &&
      trace_row "$C/cli.err" "cipher suite" "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" &&
      trace_row "$C/cli.err" "key exchange group" "x25519" &&
      trace_row "$C/cli.err" "signature scheme" "rsa_pss_rsae_sha256" &&
      trace_row "$C/cli.err" "server name \(SNI\)" "localhost" &&
      trace_row "$C/cli.err" "ALPN" "none" &&
      trace_row "$C/cli.err" "extended master secret" "yes" &&
      trace_row "$C/cli.err" "secure renegotiation" "yes" &&
      trace_row "$C/cli.err" "resumed" "no: full handshake" &&
      trace_row "$C/cli.err" "resumed" "yes, by session ticket"
  }
  check "TLS 1.2 summary: version, suite, group, signature, SNI, ALPN, EMS, renegotiation, resumed and how" \
    summary12 || keep_case "$name"
  chain_ok() {
    grep -qE '^trace +\|  # server certificate chain \(2 sent by the server\): ok' "$C/cli.err" ||
      fail "no chain header" || return
    grep -qE '^trace +\|  #   \[0\] CN=localhost, O=hasp tests +sent by the peer$' "$C/cli.err" ||
      fail "leaf line missing" || return
    grep -qE '^trace +\|  #   \[1\] CN=hasp test intermediate CA, O=hasp tests +sent by the peer$' "$C/cli.err" ||
      fail "intermediate line missing" || return
    grep -qE '^trace +\|  #   \[2\] CN=hasp test root CA, O=hasp tests +from the trust store \(the anchor\)$' "$C/cli.err" ||
      fail "anchor line missing" || return
  }
  check "chain view: each certificate and where it came from (peer, trust store)" chain_ok || keep_case "$name"
  keys12() {
    grep -qE '^trace +\|  ~ client -> server records now protected: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256' "$C/cli.err" &&
      grep -qE '^trace +\|  \* decision: cipher suite = TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 \(the server decided\)' "$C/cli.err" &&
      grep -qE '^trace +\|  \* decision: resumption = ticket \(the server decided\)' "$C/cli.err" &&
      grep -qE '^trace +[0-9.]+ms  \|=+ handshake complete \(client side\) [0-9.]+ ms =+\|' "$C/cli.err" ||
      fail "key change / decision / completion lines missing" || return
  }
  check "ladder shows key changes, decisions (who decided) and the completion" keys12 || keep_case "$name"
  old_lines() {
    has_line "$C/cli.err" "hasp: protocol: TLSv1.2" && has_line "$C/cli.err" "hasp: resumed: no" &&
      grep -q '^hasp: reconnect: TLSv1.2 .*resumed: ticket$' "$C/cli.err" &&
      grep -q '^hasp:   resumed: ticket$' "$C/srv.err" &&
      grep -q '^hasp: connection 2: TLSv1.2 ' "$C/srv.err" ||
      fail "the usual hasp: lines changed: $(grep '^hasp:' "$C/cli.err" | head -3 | tr '\n' ';')" || return
    [ ! -s "$C/cli.out" ] || fail "stdout is not only application data: $(head -c 200 "$C/cli.out")" || return
  }
  check "the tool's usual lines are unchanged and the trace stays off stdout" old_lines || keep_case "$name"
  json_ok() {
    python3 - "$C/t.jsonl" <<'EOF' 2>"$C/py.err" || fail "$(tail -n 1 "$C/py.err")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
types = {e['type'] for e in ev}
need = {'connection', 'msg_sent', 'msg_recv', 'key_change', 'decision', 'cert_result', 'done', 'summary', 'alert_sent', 'alert_recv'}
assert need <= types, need - types
ch = [e for e in ev if e['type'] == 'msg_sent' and e['name'] == 'ClientHello']
assert len(ch) == 2 and ch[0]['conn'] == 1 and ch[1]['conn'] == 2 and ch[0]['flight'] == 1, ch
fin = [e for e in ev if e.get('name') == 'Finished']
assert fin and all(e['encrypted'] for e in fin), fin
cr = [e for e in ev if e['type'] == 'cert_result'][0]
assert cr['ok'] and [p['source'] for p in cr['path']] == ['peer', 'peer', 'trust store'], cr
s = [e for e in ev if e['type'] == 'summary']
assert s[0]['version'] == 'TLSv1.2' and s[1]['resumed'].startswith('yes, by session ticket'), s
EOF
  }
  check "--trace-out x.jsonl: one JSON object per line, every event type, both connections" json_ok || keep_case "$name"
  svg_ok() {
    rsvg-convert -o "$C/t.png" "$C/t.svg" 2>"$C/rsvg.err" || fail "rsvg-convert: $(head -c 300 "$C/rsvg.err")" || return
    png_ok "$C/t.png" 800 1000 || return
    grep -q 'ClientHello' "$C/t.svg" && grep -q 'server certificate chain' "$C/t.svg" ||
      fail "the SVG does not name the messages" || return
  }
  check "--trace-out x.svg renders to a PNG (rsvg-convert) of sensible size" svg_ok || keep_case "$name"
  html_ok() {
    python3 - "$C/t.html" <<'EOF' 2>"$C/py.err" || fail "not a self-contained page with the diagram and the event table: $(tail -n 1 "$C/py.err")"
import html.parser, sys
src = open(sys.argv[1]).read()
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.tags = []; self.ext = []
    def handle_starttag(self, t, a):
        self.tags.append(t)
        for k, v in a:
            if k in ('src', 'href') and v: self.ext.append(v)
p = P(); p.feed(src)
assert src.startswith('<!DOCTYPE html>') and 'svg' in p.tags and 'table' in p.tags, p.tags[:20]
assert not p.ext, p.ext
assert 'ClientHello' in src and 'NewSessionTicket' in src and 'summary' in src
EOF
  }
  check "--trace-out x.html: a self-contained page with the SVG and the event table" html_ok || keep_case "$name"
  mmd_ok() {
    [ "$(head -n 1 "$C/t.mmd")" = sequenceDiagram ] || fail "first line: $(head -n 1 "$C/t.mmd")" || return
    local m
    for m in 'C->>S: ClientHello (' 'S->>C: ServerHello (' 'S->>C: Certificate (' 'S->>C: ServerKeyExchange (' \
      'S->>C: ServerHelloDone (' 'C->>S: ClientKeyExchange (' 'C-->>S: Finished (16 bytes, encrypted)' \
      'S-->>C: Finished (16 bytes, encrypted)' 'Note over C,S: connection 2'; do
      grep -qF -- "$m" "$C/t.mmd" || fail "no '$m' in the Mermaid file" || return
    done
    ! grep -q ';' "$C/t.mmd" || fail "a ';' would end a Mermaid statement" || return
  }
  check "--trace-out x.mmd: a Mermaid sequenceDiagram listing the messages" mmd_ok || keep_case "$name"
}
case_tls12

# ---------------------------------------------------------------- TLS 1.2 resumed by session ID

case_sessid() {
  local name="TLS 1.2 resumed by session ID (--no-ticket)"
  new_case "$name"
  pair 2 "--no-ticket" "${CERTARGS[@]}" --tls1_2 --reconnect 1 --trace ||
    { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  sessid_ok() {
    [ "$CRC" -eq 0 ] || fail "hasp client exited $CRC: $(hasp_error "$C/cli.err")" || return
    same_flights "$C/cli.err" 2 0 "1:ClientHello 2:ServerHello 2:ChangeCipherSpec 2:Finished* 3:ChangeCipherSpec 3:Finished*" \
      "client ladder, connection 2" || return
    same_flights "$C/srv.err" 2 0 "1:ClientHello 2:ServerHello 2:ChangeCipherSpec 2:Finished* 3:ChangeCipherSpec 3:Finished*" \
      "server ladder, connection 2" || return
    trace_row "$C/cli.err" "resumed" "yes, by session ID" || return
    trace_row "$C/srv.err" "resumed" "yes, by session ID" || return
  }
  check "$name: ServerHello, ChangeCipherSpec, Finished from the server first, both ladders" sessid_ok ||
    keep_case "$name"
}
case_sessid

# ---------------------------------------------------------------- TLS 1.3

case_tls13() {
  local name="TLS 1.3 full handshake, then PSK resumption"
  new_case "$name"
  pair 2 "" "${CERTARGS[@]}" --tls1_3 --reconnect 1 --trace --trace-out "$C/t.svg" ||
    { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  t13_ok() {
    [ "$CRC" -eq 0 ] || fail "hasp client exited $CRC: $(hasp_error "$C/cli.err")" || return
    same_flights "$C/cli.err" 1 0 \
      "1:ClientHello 2:ServerHello 2:EncryptedExtensions* 2:Certificate* 2:CertificateVerify* 2:Finished* 3:ChangeCipherSpec 3:Finished*" \
      "client ladder" || return
    same_flights "$C/srv.err" 1 0 \
      "1:ClientHello 2:ServerHello 2:ChangeCipherSpec 2:EncryptedExtensions* 2:Certificate* 2:CertificateVerify* 2:Finished* 3:Finished* 4:NewSessionTicket* 4:NewSessionTicket*" \
      "server ladder" || return
    grep -qE '^trace +\|  ~ server -> client records now protected: TLS_AES_128_GCM_SHA256, handshake traffic keys' "$C/cli.err" &&
      grep -qE '^trace +\|  ~ client -> server records now protected: TLS_AES_128_GCM_SHA256, application traffic keys' "$C/cli.err" ||
      fail "no handshake/application traffic key lines" || return
    trace_row "$C/cli.err" "version" "TLSv1.3" || return
    trace_row "$C/cli.err" "extended master secret" "n/a" || return
    # tickets arrive after the handshake and are drawn as they come
    grep -qE '^trace +---- after the handshake ----' "$C/cli.err" &&
      grep -qE '^trace +[0-9.]+ms  \|<-+ NewSessionTicket  [0-9]+ bytes -+\|  \[encrypted\]' "$C/cli.err" ||
      fail "no NewSessionTicket after the handshake" || return
  }
  check "TLS 1.3: ServerHello in the clear, the rest of the server's flight marked encrypted, key schedule steps" t13_ok ||
    keep_case "$name"
  psk_ok() {
    same_flights "$C/cli.err" 2 0 \
      "1:ClientHello 2:ServerHello 2:EncryptedExtensions* 2:Finished* 3:ChangeCipherSpec 3:Finished*" \
      "client ladder, connection 2" || return
    trace_row "$C/cli.err" "resumed" "yes, by PSK" || return
    grep -qE '^trace +\|  \* decision: resumption = psk_dhe_ke \(the server decided\)' "$C/cli.err" || fail "no resumption decision" || return
  }
  check "TLS 1.3 resumed by PSK: no Certificate, the decision shown" psk_ok || keep_case "$name"
  svg13() {
    rsvg-convert -o "$C/t.png" "$C/t.svg" 2>"$C/rsvg.err" || fail "rsvg-convert: $(head -c 300 "$C/rsvg.err")" || return
    png_ok "$C/t.png" 800 800
  }
  check "TLS 1.3 SVG renders" svg13 || keep_case "$name"
}
case_tls13

# ---------------------------------------------------------------- mutual authentication

case_mutual() {
  local name="mutual authentication (TLS 1.2): the server's ladder and the client's chain"
  new_case "$name"
  pair 2 "--verify-client require --cafile $CERTS/ca.pem" "${CERTARGS[@]}" --tls1_2 --reconnect 1 --no-ticket \
    --cert "$CERTS/client-ecdsa.pem" --key "$CERTS/client-ecdsa.key" --trace ||
    { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  mutual_ok() {
    [ "$CRC" -eq 0 ] || fail "hasp client exited $CRC: $(hasp_error "$C/cli.err")" || return
    same_flights "$C/srv.err" 1 0 \
      "1:ClientHello 2:ServerHello 2:Certificate 2:ServerKeyExchange 2:CertificateRequest 2:ServerHelloDone 3:Certificate 3:ClientKeyExchange 3:CertificateVerify 3:ChangeCipherSpec 3:Finished* 4:ChangeCipherSpec 4:Finished*" \
      "server ladder" || return
    grep -qE '^trace +\|  # client certificate chain \(2 sent by the client\): ok' "$C/srv.err" &&
      grep -qE '^trace +\|  #   \[0\] CN=hasp test client ecdsa, O=hasp tests +sent by the peer$' "$C/srv.err" ||
      fail "no client chain view on the server" || return
    trace_row "$C/srv.err" "peer certificate" "ok" || return
  }
  check "$name" mutual_ok || keep_case "$name"
}
case_mutual

# ---------------------------------------------------------------- renegotiation

case_reneg() {
  local name="renegotiation (client-initiated, TLS 1.2): a second handshake, encrypted"
  new_case "$name"
  pair 1 "--allow-renegotiation" "${CERTARGS[@]}" --tls1_2 --renegotiate --trace ||
    { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  reneg_ok() {
    [ "$CRC" -eq 0 ] || fail "hasp client exited $CRC: $(hasp_error "$C/cli.err")" || return
    grep -qE '^trace +---- renegotiation \(handshake 2 on this connection\) ----' "$C/cli.err" ||
      fail "no renegotiation header" || return
    same_flights "$C/cli.err" 1 1 \
      '1:ClientHello\* 2:ServerHello\* 2:Certificate\* 2:ServerKeyExchange\* 2:ServerHelloDone\* 3:ClientKeyExchange\* 3:ChangeCipherSpec\* 3:Finished\*( 4:NewSessionTicket\*)? 4:ChangeCipherSpec\* 4:Finished\*' \
      "client ladder, renegotiation" || return
    grep -qE '^trace +---- after the renegotiation ----' "$C/cli.err" || fail "no summary after the renegotiation" || return
    same_flights "$C/srv.err" 1 1 \
      '1:ClientHello\* 2:ServerHello\* 2:Certificate\* 2:ServerKeyExchange\* 2:ServerHelloDone\* 3:ClientKeyExchange\* 3:ChangeCipherSpec\* 3:Finished\*( 4:NewSessionTicket\*)? 4:ChangeCipherSpec\* 4:Finished\*' \
      "server ladder, renegotiation" || return
  }
  check "$name" reneg_ok || keep_case "$name"
}
case_reneg

case_reneg_server() {
  local name="renegotiation (server-initiated): HelloRequest opens the second handshake in the server's ladder"
  new_case "$name"
  # the client stays a second, so that the HelloRequest finds it listening
  mkfifo "$C/in"
  { printf 'hello\n'; sleep 1; } >"$C/in" &
  bg_track $!
  PAIR_STDIN="$C/in" pair 1 "--renegotiate" "${CERTARGS[@]}" --tls1_2 --allow-renegotiation --trace ||
    { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  reneg_srv_ok() {
    [ "$SRC" -eq 0 ] || fail "hasp server exited $SRC" || return
    same_flights "$C/srv.err" 1 1 \
      '1:HelloRequest\* 2:ClientHello\* 3:ServerHello\* 3:Certificate\* 3:ServerKeyExchange\* 3:ServerHelloDone\* 4:ClientKeyExchange\* 4:ChangeCipherSpec\* 4:Finished\*( 5:NewSessionTicket\*)? 5:ChangeCipherSpec\* 5:Finished\*' \
      "server ladder, renegotiation" || return
    [ "$(grep -cE 'handshake complete \(server side\)' "$C/srv.err")" -eq 2 ] ||
      fail "expected two 'handshake complete (server side)' lines" || return
  }
  check "$name" reneg_srv_ok || keep_case "$name"
}
case_reneg_server

case_hrr() {
  local name="TLS 1.3 HelloRetryRequest (server --groups P-384): drawn as its own flight"
  new_case "$name"
  pair 1 "--groups P-384" "${CERTARGS[@]}" --tls1_3 --trace --trace-out "$C/h.mmd" ||
    { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  hrr_ok() {
    [ "$CRC" -eq 0 ] || fail "hasp client exited $CRC: $(hasp_error "$C/cli.err")" || return
    same_flights "$C/cli.err" 1 0 \
      "1:ClientHello 2:HelloRetryRequest 3:ClientHello 4:ServerHello 4:EncryptedExtensions* 4:Certificate* 4:CertificateVerify* 4:Finished* 5:ChangeCipherSpec 5:Finished*" \
      "client ladder" || return
    grep -qE '^trace +\|  \* decision: HelloRetryRequest = secp384r1 \(the server decided\)' "$C/cli.err" ||
      fail "no HelloRetryRequest decision" || return
    trace_row "$C/cli.err" "key exchange group" "secp384r1" || return
    grep -qF 'S->>C: HelloRetryRequest (' "$C/h.mmd" || fail "not in the Mermaid file" || return
  }
  check "$name" hrr_ok || keep_case "$name"
}
case_hrr

# ---------------------------------------------------------------- failures

case_bad_name() {
  local name="failure: wrong --servername -> reason, bad_certificate(42) sent by the client, failing link"
  new_case "$name"
  pair 1 "" --servername wrong.example --cafile "$CERTS/ca.pem" --tls1_2 --trace --trace-out "$C/f.svg" \
    --trace-format json --trace-out "$C/f.jsonl" ||
    { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  bad_name_ok() {
    [ "$CRC" -ne 0 ] || fail "hasp client succeeded" || return
    grep -qE '^trace +---- FAILED ----' "$C/cli.err" || fail "no FAILED block" || return
    trace_row "$C/cli.err" "reason" "certificate verify failed: certificate 'CN=localhost, O=hasp tests' does not match 'wrong.example'" || return
    trace_row "$C/cli.err" "alert" "bad_certificate\(42\), fatal, sent to the server" || return
    trace_row "$C/cli.err" "decided by" "the client \(this side\)" || return
    grep -qE '^trace +\|  #   \[0\] CN=localhost, O=hasp tests +sent by the peer   <== fails here$' "$C/cli.err" &&
      grep -qE "^trace +\|  #   why: certificate 'CN=localhost, O=hasp tests' does not match 'wrong.example'" "$C/cli.err" ||
      fail "the failing link is not marked" || return
    grep -qE '^trace +[0-9.]+ms  \|-+> alert bad_certificate\(42\) \(fatal\) from the client \|' "$C/cli.err" ||
      fail "no alert arrow" || return
    has_text "$C/cli.err" "hasp: error: certificate verify failed" || fail "the usual error line is gone" || return
    # the server saw it from the other side
    trace_row "$C/srv.err" "alert" "bad_certificate\(42\), fatal, received from the client" || return
    trace_row "$C/srv.err" "decided by" "the client \(the peer\)" || return
  }
  check "$name" bad_name_ok || keep_case "$name"
  fail_files() {
    rsvg-convert -o "$C/f.png" "$C/f.svg" 2>"$C/rsvg.err" || fail "rsvg-convert: $(head -c 300 "$C/rsvg.err")" || return
    png_ok "$C/f.png" 800 300 || return
    python3 - "$C/f.jsonl" <<'EOF' 2>"$C/py.err" || fail "the JSON failure record is wrong: $(tail -n 1 "$C/py.err")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
f = [e for e in ev if e['type'] == 'failure'][0]
assert f['decided by'].startswith('the client (this side)') and f['error'] == 'HASP_ERR_CERT_NAME', f
c = [e for e in ev if e['type'] == 'cert_result'][0]
assert not c['ok'] and c['failing'] == 0 and c['error'] == 'HASP_ERR_CERT_NAME', c
EOF
  }
  check "failure: the SVG renders and the JSON has the failure and the failing link" fail_files || keep_case "$name"
}
case_bad_name

case_unknown_ca() {
  local name="failure: untrusted root (TLS 1.3) -> no path built, unknown_ca(48)"
  new_case "$name"
  pair 1 "" --servername localhost --cafile "$CERTS/other-ca.pem" --tls1_3 --trace ||
    { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  unknown_ca_ok() {
    [ "$CRC" -ne 0 ] || fail "hasp client succeeded" || return
    grep -qE '^trace +\|  # server certificate chain \(2 sent by the server\): FAILED \(HASP_ERR_CERT_UNKNOWN_CA\)' "$C/cli.err" &&
      grep -qE '^trace +\|  #   no path built' "$C/cli.err" &&
      grep -qE '^trace +\|  #    x  its issuer CN=hasp test intermediate CA, O=hasp tests: not found' "$C/cli.err" ||
      fail "chain view: $(grep '#' "$C/cli.err" | head -4 | tr '\n' ';')" || return
    # the rejected Certificate is drawn (inferred when the engine did not report it)
    grep -qE '^trace +[0-9.]+ms  \|<-+ Certificate  ([0-9]+ bytes|\(size not reported\)) -+\|  \[encrypted\]' "$C/cli.err" ||
      fail "the rejected Certificate message is not drawn" || return
    trace_row "$C/cli.err" "alert" "unknown_ca\(48\), fatal, sent to the server" || return
    trace_row "$C/srv.err" "decided by" "the client \(the peer\)" || return
  }
  check "$name" unknown_ca_ok || keep_case "$name"
}
case_unknown_ca

# ---------------------------------------------------------------- JSON on stderr, option errors

case_json_stderr() {
  local name="--trace-format json alone: JSON lines on stderr, no ladder"
  new_case "$name"
  pair 1 "" "${CERTARGS[@]}" --trace-format json ||
    { notok "$name" "hasp server did not start: $WHY"; keep_case "$name"; return; }
  json_stderr_ok() {
    [ "$CRC" -eq 0 ] || fail "hasp client exited $CRC" || return
    ! grep -q '^trace ' "$C/cli.err" || fail "a ladder line on stderr" || return
    grep '^{' "$C/cli.err" >"$C/j"
    [ "$(wc -l <"$C/j")" -ge 10 ] || fail "only $(wc -l <"$C/j") JSON lines" || return
    python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$C/j" 2>"$C/j.err" ||
      fail "$(tail -1 "$C/j.err")" || return
    has_line "$C/cli.err" "hasp: protocol: TLSv1.3" || fail "the usual summary is gone" || return
  }
  check "$name" json_stderr_ok || keep_case "$name"
}
case_json_stderr

opt_errors() {
  "$HASP" client 127.0.0.1:1 --trace-out "$T/x.png" </dev/null >/dev/null 2>"$T/e1"
  local r1=$?
  "$HASP" client 127.0.0.1:1 --trace-format xml </dev/null >/dev/null 2>"$T/e2"
  local r2=$?
  [ $r1 -eq 2 ] && grep -q "must end in .svg" "$T/e1" || fail "--trace-out x.png: exit $r1, $(head -1 "$T/e1")" || return
  [ $r2 -eq 2 ] && grep -q "takes text or json" "$T/e2" || fail "--trace-format xml: exit $r2, $(head -1 "$T/e2")" || return
}
check "--trace-out with an unknown extension and --trace-format xml are refused" opt_errors

# ---------------------------------------------------------------- a server hasp did not write

case_openssl13() {
  local name="hasp client --trace -> openssl s_server (TLS 1.3): ladder and encrypted marks"
  new_case "$name"
  next_port
  mkfifo "$C/s.in"
  bg_start "$C/srv" "$C/s.in" openssl s_server -accept "$PORT" -cert "$CERTS/rsa.pem" \
    -cert_chain "$CERTS/rsa.pem" -key "$CERTS/rsa.key" -tls1_3 -quiet
  local spid=$BGPID
  sleep 30 >"$C/s.in" &
  bg_track $!
  wait_listen "$PORT" "$spid" || { notok "$name" "s_server did not start: $WHY"; keep_case "$name"; return; }
  timeout -k 2 "$TMO" "$HASP" client "127.0.0.1:$PORT" "${CERTARGS[@]}" --trace </dev/null >"$C/cli.out" 2>"$C/cli.err"
  CRC=$?
  bg_stop "$spid"
  ossl_ok() {
    [ "$CRC" -eq 0 ] || fail "hasp client exited $CRC: $(hasp_error "$C/cli.err")" || return
    same_flights "$C/cli.err" 1 0 \
      '1:ClientHello 2:ServerHello( 2:ChangeCipherSpec)? 2:EncryptedExtensions\* 2:Certificate\* 2:CertificateVerify\* 2:Finished\* 3:ChangeCipherSpec 3:Finished\*' \
      "client ladder" || return
    grep -qE '^trace +\|  #   \[2\] CN=hasp test root CA, O=hasp tests +from the trust store \(the anchor\)$' "$C/cli.err" ||
      fail "no chain view" || return
  }
  check "$name" ossl_ok || keep_case "$name"
}
case_openssl13

finish
