#!/usr/bin/env bash
# The bot serving benchmark, prefix cache on vs off: starts `beanbag serve` on MODEL twice
# (the second time with --no-prefix-cache), runs bench/bots.mjs against each (16 users of one
# bot with a ~1,500-token persona asking short questions, then an 8-turn conversation), and
# prints both results and the TTFT ratio.
#
#   bash bench/bots.sh MODEL.gguf [--threads 2] [--users 16] [--persona-tokens 1500]
#        [--max-tokens 32] [--turns 8] [--ctx-size 32768] [--port 8089]
#
# The pool must hold every user's whole prompt when the cache is off (users x (persona +
# question + answer)), or the cache-off run also measures preemption.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: bash bench/bots.sh MODEL.gguf [options]}
shift
threads=2 users=16 persona=1500 max_tokens=32 turns=8 ctx=32768 port=8089
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2 ;;
    --users) users=$2 ;;
    --persona-tokens) persona=$2 ;;
    --max-tokens) max_tokens=$2 ;;
    --turns) turns=$2 ;;
    --ctx-size) ctx=$2 ;;
    --port) port=$2 ;;
    *) echo "bots.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
bin=build/beanbag
[ -x "$bin" ] || { echo "bots.sh: build first (cmake --build build)" >&2; exit 1; }
data=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT
run() { # $1: on|off
  local extra=""
  [ "$1" = off ] && extra=--no-prefix-cache
  "$bin" serve -m "$model" --port "$port" --threads "$threads" --parallel "$users" \
    --ctx-size "$ctx" --data-dir "$data/$1" --admin-key bench-admin -q $extra > "$data/$1.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    grep -q ready "$data/$1.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$data/$1.log" >&2; exit 1; }
    sleep 0.2
  done
  node bench/bots.mjs --url "http://127.0.0.1:$port" --admin-key bench-admin --users "$users" \
    --persona-tokens "$persona" --max-tokens "$max_tokens" --turns "$turns" --json > "$data/$1.json"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}
run on
run off
node -e '
const [on, off] = [process.argv[1], process.argv[2]].map((f) => JSON.parse(require("fs").readFileSync(f)));
const f = (x) => x.toFixed(1);
console.log(`persona ${on.persona_tokens} tokens, ${on.users} users, ${on.requests} requests`);
console.log("cache  TTFT p50 ms  TTFT p99 ms    tok/s  cached/prompt tokens");
for (const [n, r] of [["on", on], ["off", off]])
  console.log(`${n.padEnd(5)}  ${f(r.ttft_ms.p50).padStart(11)}  ${f(r.ttft_ms.p99).padStart(11)}  ` +
              `${f(r.tokens_per_s).padStart(7)}  ${r.cached_tokens}/${r.prompt_tokens}`);
console.log(`TTFT p50 off/on: ${(off.ttft_ms.p50 / on.ttft_ms.p50).toFixed(1)}x`);
console.log("turn  prompt  computed (on)  computed (off)");
on.turns.forEach((t, i) => console.log(`${String(t.turn).padStart(4)}  ${String(t.prompt_tokens).padStart(6)}  ` +
  `${String(t.computed_tokens).padStart(13)}  ${String(off.turns[i].computed_tokens).padStart(14)}`));
' "$data/on.json" "$data/off.json"
