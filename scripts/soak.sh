#!/usr/bin/env bash
# Soak: the AddressSanitizer + LeakSanitizer server (build-asan/, as scripts/test.sh --sanitize
# builds it) on the built-in demo model under scripts/soak.mjs's clients for MINUTES (a
# fraction is fine: 0.5), then SIGTERM: it must exit 0 with no sanitizer report. Checks of
# the clients: see scripts/soak.mjs.
#   usage: scripts/soak.sh MINUTES [CLIENTS (24)] [IDLE CONNECTIONS (200)]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:?usage: scripts/soak.sh MINUTES [CLIENTS] [IDLE]}
clients=${2:-24} idle=${3:-200}
if [ ! -x build-asan/beanbag ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBB_SANITIZE=ON -DBB_ALLOC_FAIL=ON >/dev/null
  cmake --build build-asan -j"$(nproc)" --target beanbag
fi
log=$(mktemp -d /tmp/bb-soak-XXXXXX)
# a small quarantine keeps ASan's own memory from looking like growth
export ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=16:log_path=$log/asan
export UBSAN_OPTIONS=print_stacktrace=1:log_path=$log/ubsan
build-asan/beanbag serve --port 0 --parallel 4 --max-queue 12 --ctx-size 2048 --threads 2 \
  --timeout 5 --max-body 65536 --max-connections 1024 --shutdown-timeout 5 \
  > "$log/server.log" 2>&1 &
server=$!
port=""
for _ in $(seq 1 600); do
  port=$(sed -n 's|.*listening on http://[^:]*:\([0-9]*\).*|\1|p' "$log/server.log" | head -1)
  [ -n "$port" ] && grep -q "ready" "$log/server.log" && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "soak: the server did not start"; cat "$log/server.log"
  kill "$server" 2>/dev/null || true
  exit 1
fi
rc=0
node scripts/soak.mjs --port "$port" --pid "$server" --minutes "$minutes" --clients "$clients" \
  --idle "$idle" --max-body 65536 || rc=1
kill -TERM "$server"
t0=$(date +%s.%N)
status=0
wait "$server" || status=$?
printf 'soak: SIGTERM to exit: %.2f s, exit status %d\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$status"
[ "$status" = 0 ] || { echo "FAIL: server exit status $status"; rc=1; }
if ls "$log"/asan* "$log"/ubsan* >/dev/null 2>&1; then
  echo "FAIL: sanitizer reports:"; cat "$log"/asan* "$log"/ubsan* | head -60; rc=1
fi
[ $rc = 0 ] && rm -rf "$log" || echo "soak: logs in $log"
exit $rc
