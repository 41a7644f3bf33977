#!/usr/bin/env bash
# Installs the build dependencies (Debian 12) and builds beanbag into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
# nodejs/npm: the chat page's libraries come from npm at build time, and the server tests drive
# beanbag with the official `openai` npm package; libcurl and OpenSSL's libcrypto: `beanbag
# pull` (downloads, SHA-256) and the digests of user keys; libsqlite3: --data-dir (bots, keys,
# conversations); chromium (and a CJK font for its screenshots): the web page tests;
# nginx: the fleet test (tests/test_fleet.c) runs Debian's nginx in front of replicas.
pkgs="build-essential cmake pkg-config libpcre2-dev libcjson-dev libmicrohttpd-dev libsqlite3-dev curl nodejs
      libcurl4-openssl-dev libssl-dev chromium fonts-wqy-microhei nginx"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
# The server tests' npm packages (openai, ajv, ajv-formats; tests/server/package.json). Without
# network the server test installs them itself later, or skips saying so.
# Reinstalled when a package is missing or the openai package is not the major version the
# tests are written for (7).
npm_ok() {
  [ -f tests/server/node_modules/ajv-formats/package.json ] &&
    grep -q '"version": "7\.' tests/server/node_modules/openai/package.json 2>/dev/null
}
if command -v npm >/dev/null 2>&1 && ! npm_ok; then
  (cd tests/server && npm install --no-audit --no-fund --loglevel=error >/dev/null 2>&1) ||
    echo "setup: npm could not install tests/server's packages (the server test will retry)"
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
