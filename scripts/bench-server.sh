#!/usr/bin/env bash
# hasp beside nginx (make bench-server, issue 19): `hasp server --www` and
# nginx (the Debian package: OpenSSL 3.0, worker_processes 1) one after the
# other, on the same certificates, the same page, the same load client, on
# loopback. One table: new TLS 1.3 connections per second (a full handshake
# per request; ECDSA P-256 and RSA-2048 certificates), keep-alive requests
# per second with p50 and p99 latency, and the server's RSS per idle TLS
# connection (1,000 open). The server is pinned to CPU 0, the load client
# to CPU 1; both CPU shares are printed for every run.
#
# The load client is hasp-load (bench/load/hasp-load.c), on hasp's own
# client: OpenSSL 3.0's clients (wrk, h2load)
# spend 1.4-1.6 ms of CPU per full handshake here, 2-3x what either server
# spends, so with one core each they, not the server, set the rate
# (bench/README.md, "Beside nginx").
#
# Usage: scripts/bench-server.sh BUILD_DIR [SECONDS] [CONNECTIONS]
#   SECONDS per measured run (default 8, after 1 s of warm-up),
#   CONNECTIONS concurrent connections of the load client (default 32).
# About 65 s in all with the defaults. Not part of `make test`.
set -u
BUILD=${1:-build}
SECS=${2:-8}
CONNS=${3:-32}
IDLE=1000
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HASP="$BUILD/hasp"
CERTS="$BUILD/test-certs"
die() { echo "bench-server: $*" >&2; exit 1; }

for t in nginx taskset ss pgrep; do
  command -v "$t" >/dev/null || die "$t is not installed (scripts/deps.sh bench-server installs what is missing)"
done
if [ ! -x "$HASP" ]; then die "no $HASP: run make build first"; fi
bash "$ROOT/tests/certs/gen.sh" "$CERTS" >/dev/null 2>&1 || die "cannot make the test certificates"
CERTS=$(cd "$CERTS" && pwd) # nginx reads them from its own prefix
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -ge $((IDLE * 2 + 200)) ] || die "ulimit -n is $(ulimit -n): $IDLE idle connections need more"

T=$(mktemp -d "${TMPDIR:-/tmp}/hasp-bench-server.XXXXXX")
SRV="" # the server running now (the load client runs in the foreground)
cleanup() {
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(nproc)" -ge 2 ]; then
  SRV_CPU=0 CLI_CPU=1
else
  SRV_CPU=0 CLI_CPU=0
  echo "bench-server: one CPU only: the server and the load client share it" >&2
fi

LOAD="$BUILD/hasp-load" # bench/load/hasp-load.c, built with the rest
[ -x "$LOAD" ] || die "no $LOAD: run make build first (it is built with the benchmark)"

free_port() {
  local p=$(( 21000 + RANDOM % 20000 ))
  while ss -ltn | grep -q ":$p "; do p=$((p + 1)); done
  echo $p
}
wait_port() { for _ in $(seq 50); do ss -ltn | grep -q "127.0.0.1:$1 " && return 0; sleep 0.1; done; return 1; }

# start_hasp CERT KEY / start_nginx CERT KEY PAGE: set PORT, SRV (the process
# started) and MEASURE (the one whose CPU and RSS count: for nginx the worker)
start_hasp() {
  PORT=$(free_port)
  taskset -c "$SRV_CPU" "$HASP" server --accept "$PORT" --www --quiet --tls1_3 \
    --cert "$1" --key "$2" >"$T/hasp.log" 2>&1 &
  SRV=$!
  MEASURE=$SRV
  wait_port "$PORT" || die "hasp server did not start: $(cat "$T/hasp.log")"
}
start_nginx() {
  local page
  PORT=$(free_port)
  page=$(cat "$3"; echo x)
  page=${page%x}
  case $page in *[\"\\\$]*) die "the page has a character nginx's return would interpret" ;; esac
  mkdir -p "$T/nginx"
  cat >"$T/nginx/nginx.conf" <<CONF
# hasp's bench-server: nginx as the Debian package builds it, defaults
# otherwise (tickets on, no session cache)
worker_processes 1;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    access_log off;
    server_tokens off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fastcgi;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    server {
        listen 127.0.0.1:$PORT ssl backlog=64;
        ssl_certificate $1;
        ssl_certificate_key $2;
        ssl_protocols TLSv1.3;
        location / {
            default_type text/html;
            return 200 "$page";
        }
    }
}
CONF
  taskset -c "$SRV_CPU" nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" \
    >"$T/nginx.out" 2>&1 &
  SRV=$!
  wait_port "$PORT" || die "nginx did not start: $(cat "$T/nginx.out" "$T/nginx/error.log" 2>/dev/null)"
  MEASURE=""
  for _ in $(seq 20); do
    MEASURE=$(pgrep -P "$SRV" | head -n 1)
    [ -n "$MEASURE" ] && break
    sleep 0.1
  done
  [ -n "$MEASURE" ] || die "nginx started no worker"
}
stop_server() {
  kill "$SRV" 2>/dev/null
  for _ in $(seq 30); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SRV" 2>/dev/null
  wait "$SRV" 2>/dev/null
  SRV=""
}
# load MODE [ARGS]: one run of hasp-load against $PORT, its key=value line
load() {
  local mode=$1
  shift
  timeout $((SECS + 40)) taskset -c "$CLI_CPU" "$LOAD" -p "$PORT" -P "$MEASURE" -S "$SRV_CPU" -C "$CLI_CPU" \
    -m "$mode" "$@" \
    2>>"$T/load.err"
}
kv() { # kv LINE KEY
  local f
  for f in $1; do [ "${f%%=*}" = "$2" ] && { echo "${f#*=}"; return; }; done
  echo "?"
}

# how busy the two CPUs are before we start, over one second
busy() {
  local a b
  a=$(grep -E "^cpu($SRV_CPU|$CLI_CPU) " /proc/stat)
  sleep 1
  b=$(grep -E "^cpu($SRV_CPU|$CLI_CPU) " /proc/stat)
  paste <(echo "$a") <(echo "$b") | awk '{ n = (NF - 2) / 2; all = 0
    for (i = 2; i <= 9; i++) { d = $(i + n + 1) - $i; all += d; if (i == 5 || i == 6) idle += d }
    printf "%s%s %.0f%%", sep, toupper(substr($1, 1, 1)) substr($1, 2), all ? 100 * (all - idle) / all : 0
    sep = ", "; idle = 0 } END { print "" }'
}

declare -A R
echo "hasp beside nginx: $(nginx -v 2>&1 | sed 's/^nginx version: //') with $(openssl version | cut -d' ' -f1-2), hasp $("$HASP" version 2>/dev/null | head -n 1 | awk '{print $NF}')"
echo "before the runs: $(uptime | sed 's/.*load average/load average/'); busy over 1 s: $(busy)"
echo "server on CPU $SRV_CPU, load client (hasp-load, one thread, $CONNS connections) on CPU $CLI_CPU; ${SECS} s per run after 1 s of warm-up"

# row by row, hasp then nginx, so that a change in the machine's load
# between rows hits both alike; a fresh server for every run
for run in ecdsa,close ecdsa,ka rsa,close; do
  cert=${run%,*}
  for srv in hasp nginx; do
    if [ "$srv" = hasp ]; then
      start_hasp "$CERTS/$cert.pem" "$CERTS/$cert.key"
    else
      start_nginx "$CERTS/$cert.pem" "$CERTS/$cert.key" "$T/page-hasp-$cert"
    fi
    timeout 10 "$LOAD" -p "$PORT" -m get >"$T/page-$srv-$cert" 2>"$T/neg-$srv-$cert" ||
      die "$srv ($cert): GET / failed: $(cat "$T/neg-$srv-$cert")"
    if [ "${run#*,}" = close ]; then
      R[$srv,$cert,close]=$(load close -c "$CONNS" -w 1 -d "$SECS")
    else
      R[$srv,ka]=$(load keepalive -c "$CONNS" -w 1 -d "$SECS")
    fi
    stop_server
  done
done
# fresh servers for memory: the baseline is after four connections
for srv in hasp nginx; do
  if [ "$srv" = hasp ]; then
    start_hasp "$CERTS/ecdsa.pem" "$CERTS/ecdsa.key"
  else
    start_nginx "$CERTS/ecdsa.pem" "$CERTS/ecdsa.key" "$T/page-hasp-ecdsa"
    R[nginx,master_kb]=$(awk '/^VmRSS:/ {print $2}' "/proc/$SRV/status")
  fi
  R[$srv,idle]=$(load idle -n "$IDLE" -c "$CONNS" -d 30)
  stop_server
done

# the table
num() { awk -v v="$1" 'BEGIN { exit !(v ~ /^-?[0-9.]+$/) }'; }
ratio() { if num "$1" && num "$2" && awk -v b="$2" 'BEGIN { exit !(b > 0) }'; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo "?"; fi; }
ms() { if num "$1"; then awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; else echo "?"; fi; }
pct() { if num "$1"; then awk -v c="$1" 'BEGIN { printf "%.0f%%", c * 100 }'; else echo "?"; fi; }
GOALS=()
# goal NAME A B OP: OP is ge (A >= B), le (A <= B) or quarter (A <= B/4)
goal() {
  local verdict="n/a"
  if num "$2" && num "$3"; then
    if awk -v a="$2" -v b="$3" -v op="$4" 'BEGIN { exit !((op == "ge" && a >= b) || (op == "le" && a <= b) || (op == "quarter" && 4 * a <= b)) }'; then
      verdict="met"
    else
      verdict="NOT met"
    fi
  fi
  GOALS+=("$(printf '  %-50s %s' "$1" "$verdict")")
}
row() { printf '%-30s %12s %12s %11s\n' "$@"; }

he=${R[hasp,ecdsa,close]:-} ne=${R[nginx,ecdsa,close]:-}
hr=${R[hasp,rsa,close]:-} nr=${R[nginx,rsa,close]:-}
hk=${R[hasp,ka]:-} nk=${R[nginx,ka]:-}
hi=${R[hasp,idle]:-} ni=${R[nginx,idle]:-}
echo
row "row" "hasp" "nginx" "hasp/nginx"
for r in "new conns/s TLS1.3 ECDSA:$he:$ne:rate:ge" "new conns/s TLS1.3 RSA-2048:$hr:$nr:rate:ge" \
  "keep-alive req/s:$hk:$nk:rate:ge" "p50 latency keep-alive (ms):$hk:$nk:p50_us:le" \
  "p99 latency keep-alive (ms):$hk:$nk:p99_us:le" "RSS per idle conn (bytes):$hi:$ni:per_conn_b:quarter"; do
  IFS=: read -r name hl nl key op <<<"$r"
  a=$(kv "$hl" "$key") b=$(kv "$nl" "$key")
  case $key in
    p50_us | p99_us) row "$name" "$(ms "$a")" "$(ms "$b")" "$(ratio "$a" "$b")" ;;
    *) row "$name" "$a" "$b" "$(ratio "$a" "$b")" ;;
  esac
  case $op in
    ge) goal "hasp >= nginx: $name" "$b" "$a" le ;;
    le) goal "hasp <= nginx: $name" "$a" "$b" le ;;
    quarter) goal "hasp <= 1/4 of nginx: $name" "$a" "$b" quarter ;;
  esac
done

echo
echo "CPU over each measured run, as a share of one core: the server on CPU $SRV_CPU (nginx: its worker),"
echo "hasp-load on CPU $CLI_CPU, and rest: what else kept CPU $SRV_CPU / CPU $CLI_CPU busy (other processes,"
echo "softirq time not charged to a process, steal)"
printf '%-30s %7s %7s %9s   %7s %7s %9s\n' "" "hasp" "load" "rest" "nginx" "load" "rest"
rest() { # rest LINE: busy minus the server / busy minus the load client
  local a b c d
  a=$(kv "$1" server_cpu_busy) b=$(kv "$1" server_cpu) c=$(kv "$1" client_cpu_busy) d=$(kv "$1" client_cpu)
  if num "$a" && num "$b" && num "$c" && num "$d"; then
    awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" 'function z(x) { return x < 0 ? 0 : x }
      BEGIN { printf "%.0f/%.0f%%", 100 * z(a - b), 100 * z(c - d) }'
  else
    echo "?"
  fi
}
NOTES=()
for r in "new conns/s TLS1.3 ECDSA:$he:$ne" "new conns/s TLS1.3 RSA-2048:$hr:$nr" "keep-alive req/s:$hk:$nk"; do
  IFS=: read -r name hl nl <<<"$r"
  printf '%-30s %7s %7s %9s   %7s %7s %9s\n' "$name" "$(pct "$(kv "$hl" server_cpu)")" \
    "$(pct "$(kv "$hl" client_cpu)")" "$(rest "$hl")" "$(pct "$(kv "$nl" server_cpu)")" \
    "$(pct "$(kv "$nl" client_cpu)")" "$(rest "$nl")"
  for x in "hasp:$hl" "nginx:$nl"; do
    srv=${x%%:*} l=${x#*:}
    c=$(kv "$l" client_cpu) v=$(kv "$l" server_cpu)
    if ! num "$c" || ! num "$v"; then continue; fi
    if awk -v c="$c" 'BEGIN { exit !(c >= 0.85) }'; then
      NOTES+=("  $name, $srv: hasp-load used $(pct "$c") of its core: it was (near) the limit, $srv's rate is a lower bound")
    elif awk -v v="$v" 'BEGIN { exit !(v < 0.85) }'; then
      NOTES+=("  $name, $srv: neither side had its core ($srv $(pct "$v"), hasp-load $(pct "$c"), rest $(rest "$l")): a disturbed run")
    fi
  done
done
if [ ${#NOTES[@]} -gt 0 ]; then
  printf '%s\n' "${NOTES[@]}"
else
  echo "  in every run the server used >= 85% of its core and hasp-load less: the server set the rate"
fi

echo
errs=0 missing=0
for l in "$he" "$ne" "$hr" "$nr" "$hk" "$nk" "$hi" "$ni"; do
  e=$(kv "$l" errors)
  if num "$e"; then errs=$((errs + e)); else missing=$((missing + 1)); fi
done
echo "failed connections or requests over all runs: $errs$([ $missing = 0 ] || echo " ($missing runs gave no result)")"
for cert in ecdsa rsa; do
  if cmp -s "$T/page-hasp-$cert" "$T/page-nginx-$cert"; then same="the same"; else same="NOT the same"; fi
  printf '%s: hasp  %s\n       nginx %s\n       bodies %s (%s bytes)\n' "$cert" "$(cat "$T/neg-hasp-$cert")" \
    "$(cat "$T/neg-nginx-$cert")" "$same" "$(wc -c <"$T/page-hasp-$cert")"
done
printf 'idle RSS (kB, before and with %d connections): hasp %s -> %s; nginx worker %s -> %s (master %s, not counted)\n' \
  "$IDLE" "$(kv "$hi" rss0_kb)" "$(kv "$hi" rss1_kb)" "$(kv "$ni" rss0_kb)" "$(kv "$ni" rss1_kb)" "${R[nginx,master_kb]:-?}"
echo "load at the end: $(uptime | sed 's/.*load average/load average/')"
echo
echo "goals (issue 19):"
printf '%s\n' "${GOALS[@]}"
if [ -s "$T/load.err" ]; then
  echo
  echo "hasp-load said:"
  sort "$T/load.err" | uniq -c | sort -rn | head -n 5
fi
