#!/usr/bin/env bash
# Capture real ClientHellos from OpenSSL's and GnuTLS's clients (when
# installed) as extra seeds: the raw records go to corpus/server/ and the
# ClientHello body to corpus/server_ch/. The files are committed; run this
# again only to refresh them. Usage: tests/fuzz/capture_hellos.sh
set -eu
cd "$(dirname "$0")"
PORT=${PORT:-47999}
capture() { # name, client command...
  local name=$1
  shift
  python3 - "$PORT" "$name" <<'PY' &
import socket, sys, struct
port, name = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(1); s.settimeout(10)
open(".capture-ready", "w").close()
c, _ = s.accept(); c.settimeout(5)
buf = b""
def need(n):
    global buf
    while len(buf) < n:
        d = c.recv(65536)
        if not d: raise SystemExit("short")
        buf += d
need(5); rlen = struct.unpack(">H", buf[3:5])[0]; need(5 + rlen)
rec = buf[:5 + rlen]
hlen = int.from_bytes(rec[6:9], "big")
open("corpus/server/" + name, "wb").write(rec)
open("corpus/server_ch/" + name, "wb").write(rec[9:9 + hlen])
c.close()
PY
  local py=$!
  for _ in $(seq 100); do [ -f .capture-ready ] && break; sleep 0.1; done
  rm -f .capture-ready
  timeout 5 "$@" </dev/null >/dev/null 2>&1 || true
  wait $py || echo "capture of $name failed" >&2
}
O="openssl s_client -connect 127.0.0.1:$PORT"
capture openssl-default $O -servername localhost
capture openssl-tls12 $O -tls1_2 -servername localhost -alpn h2,http/1.1
capture openssl-tls13 $O -tls1_3 -servername example.com -groups X25519:P-256:P-384:P-521
capture openssl-tls12-cbc $O -tls1_2 -cipher 'AES128-SHA:DHE-RSA-AES256-SHA256:@SECLEVEL=0' -no_ticket
capture openssl-dhe $O -tls1_2 -cipher 'DHE-RSA-AES128-GCM-SHA256' -sigalgs 'RSA-PSS+SHA256:RSA+SHA1'
if command -v gnutls-cli >/dev/null; then
  capture gnutls-default gnutls-cli --insecure -p "$PORT" 127.0.0.1
  capture gnutls-tls12 gnutls-cli --insecure --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2' -p "$PORT" localhost
fi
ls -la corpus/server_ch/
