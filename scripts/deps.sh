#!/bin/sh
# Install the Debian packages hasp needs for a target, or print the exact
# apt-get line when not root. Usage: scripts/deps.sh build|test|fuzz|bench|bench-server|conformance|abi|deb
set -e
want="build-essential cmake pkg-config libssl-dev openssl ca-certificates"
case "${1:-build}" in
  test)  want="$want gnutls-bin python3 python3-ecdsa valgrind tshark librsvg2-bin wrk iproute2 abigail-tools man-db groff-base memcached libmemcached-dev" ;;
  demo)  want="$want" ;;
  fuzz)  want="$want clang libclang-rt-14-dev" ;;
  asan)  want="$want gnutls-bin python3 python3-ecdsa valgrind tshark librsvg2-bin wrk iproute2 abigail-tools memcached libmemcached-dev" ;;
  bench) want="$want valgrind" ;;
  bench-server) want="$want nginx iproute2 procps util-linux" ;;
  conformance) want="$want python3 python3-ecdsa" ;;
  abi)   want="$want abigail-tools git" ;;
  deb)   want="$want dpkg-dev debhelper fakeroot lintian libmemcached-dev" ;;
esac
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "hasp: installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "hasp: missing Debian packages. Run as root:" >&2
  echo "  apt-get update && apt-get install -y$missing" >&2
  exit 1
fi
