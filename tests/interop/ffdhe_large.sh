#!/usr/bin/env bash
# The RFC 7919 groups beyond the defaults (ffdhe4096, ffdhe6144, ffdhe8192,
# enabled by naming them): hasp server <- openssl s_client in TLS 1.3 and
# TLS 1.2 (DHE), and hasp client -> openssl s_server in TLS 1.3; the group
# each side reports is the one asked for, the page arrives.
# Usage: bash tests/interop/ffdhe_large.sh BUILD_DIR
. "$(dirname "$0")/_lib.sh" "$@"
need_tool openssl
need_hasp
gen_certs

for g in ffdhe4096 ffdhe6144 ffdhe8192; do
  for v in 1_3 1_2; do
    name="openssl s_client -tls$v -groups $g -> hasp server --groups $g:x25519: $g"
    new_case "$name"
    next_port
    bg_start "$C/srv" /dev/null "$HASP" server --accept "127.0.0.1:$PORT" --naccept 1 --www \
      --groups "$g:x25519" --cert "$CERTS/rsa.pem" --key "$CERTS/rsa.key"
    spid=$BGPID
    wait_listen "$PORT" "$spid" || { notok "$name" "hasp server did not start: $WHY"; continue; }
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout "$TMO" openssl s_client -connect "127.0.0.1:$PORT" \
      -servername localhost -CAfile "$CERTS/ca.pem" -verify_return_error "-tls$v" -groups "$g" \
      -quiet -ign_eof >"$C/cli.out" 2>"$C/cli.err"
    bg_wait "$spid" 5
    why=""
    tr -d '\r' <"$C/cli.out" | grep -qx "Group: $g" || why="the page does not say 'Group: $g';"
    [ "$BGRC" -eq 0 ] || why="$why hasp server exited $BGRC;"
    if [ -z "$why" ]; then ok "$name"; else notok "$name" "$why"; keep_case "$name"; fi
  done
  name="hasp client --groups $g -> openssl s_server -groups $g: $g"
  new_case "$name"
  next_port
  bg_start "$C/os" /dev/null openssl s_server -accept "127.0.0.1:$PORT" -naccept 1 -www \
    -groups "$g" -cert "$CERTS/rsa-leaf.pem" -key "$CERTS/rsa.key" -cert_chain "$CERTS/int.pem"
  spid=$BGPID
  wait_listen "$PORT" "$spid" || { notok "$name" "s_server did not start: $WHY"; continue; }
  printf 'GET / HTTP/1.0\r\n\r\n' | timeout "$TMO" "$HASP" client "127.0.0.1:$PORT" \
    --servername localhost --cafile "$CERTS/ca.pem" --groups "$g" >"$C/cli.out" 2>"$C/cli.err"
  crc=$?
  bg_wait "$spid" 5
  why=""
  [ $crc -eq 0 ] || why="hasp client exited $crc: $(head -c 200 "$C/cli.err");"
  grep -qx "hasp: group: $g" "$C/cli.err" || why="$why hasp did not report 'group: $g';"
  grep -q "Shared groups: $g" "$C/cli.out" || why="$why s_server's page lacks 'Shared groups: $g';"
  if [ -z "$why" ]; then ok "$name"; else notok "$name" "$why"; keep_case "$name"; fi
done
finish
