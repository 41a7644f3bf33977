#!/usr/bin/env bash
# Speed of beanbag against llama.cpp and/or ik_llama.cpp builds on the same models.
#
#   bash bench/compare.sh [--llama PATH/llama-bench] [--ik PATH/llama-bench]
#                         [--beanbag PATH/beanbag] -m model.gguf [-m other.gguf ...]
#                         [-p 256] [-n 64] [-t 1,2] [-r 3]
#                         [--llama-args "ARGS"] [--ik-args "ARGS"]
#
# --llama-args / --ik-args are extra llama-bench options for that tool, split on spaces
# (e.g. --ik-args "-rtr 1 -fa 1": ik_llama.cpp's run-time repacking and flash attention).
#
# For each model it runs the tools in turn, one repetition each (beanbag, llama.cpp,
# ik_llama.cpp, then again, -r rounds), rather than all of one tool's repetitions in a row:
# on a shared or thermally throttled machine the load drifts, and interleaving spreads that
# drift over every tool alike. Each run still does its own untimed warm-up. The JSON outputs
# (beanbag bench --json, llama-bench -o json: avg_ts per test with n_prompt, n_gen,
# n_threads) are parsed with node and summarised as one markdown table per model: tokens/s
# mean ± sample standard deviation over the rounds, and beanbag's speed over each other's.
#
# It only runs binaries it is given; it never builds llama.cpp.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
beanbag="$here/../build/beanbag"
llama="" ik="" prompt=256 gen=64 threads="" rounds=3 llama_args="" ik_args=""
models=()

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}
die() {
  echo "compare.sh: $*" >&2
  exit 2
}
need() { [ $# -ge 2 ] || die "$1 needs a value"; }

while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage 0 ;;
    --llama) need "$@"; llama="$2"; shift 2 ;;
    --ik) need "$@"; ik="$2"; shift 2 ;;
    --llama-args) need "$@"; llama_args="$2"; shift 2 ;;
    --ik-args) need "$@"; ik_args="$2"; shift 2 ;;
    --beanbag) need "$@"; beanbag="$2"; shift 2 ;;
    -m) need "$@"; models+=("$2"); shift 2 ;;
    -p) need "$@"; prompt="$2"; shift 2 ;;
    -n) need "$@"; gen="$2"; shift 2 ;;
    -t) need "$@"; threads="$2"; shift 2 ;;
    -r) need "$@"; rounds="$2"; shift 2 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

list_re='^[0-9]+(,[0-9]+)*$'
[ ${#models[@]} -gt 0 ] || die "-m model.gguf is required"
[[ $prompt =~ $list_re ]] || die "-p expects comma-separated integers, got '$prompt'"
[[ $gen =~ $list_re ]] || die "-n expects comma-separated integers, got '$gen'"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "-r expects a positive integer, got '$rounds'"
[ -n "$threads" ] || threads="$(nproc)"
[[ $threads =~ $list_re ]] || die "-t expects comma-separated integers, got '$threads'"
[ -x "$beanbag" ] || die "beanbag binary '$beanbag' not found (build first, or --beanbag PATH)"
for b in "$llama" "$ik"; do
  [ -z "$b" ] || [ -x "$b" ] || die "'$b' is not an executable llama-bench"
done
for m in "${models[@]}"; do [ -r "$m" ] || die "cannot read model '$m'"; done
command -v node >/dev/null || die "node is required to parse the JSON outputs"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# run_tool NAME ROUND COMMAND...: stdout to $tmp/NAME.ROUND.json; a failure is reported (with
# the end of its stderr) and leaves that cell empty instead of ending the comparison.
run_tool() {
  local name="$1" round="$2"
  shift 2
  if ! "$@" >"$tmp/$name.$round.json" 2>"$tmp/$name.err"; then
    echo "compare.sh: $name failed (round $round): $*" >&2
    tail -n 5 "$tmp/$name.err" >&2
    rm -f "$tmp/$name.$round.json"
  fi
}

for model in "${models[@]}"; do
  rm -f "$tmp"/*.json
  for ((round = 1; round <= rounds; round++)); do
    echo "compare.sh: $(basename "$model"), round $round of $rounds" >&2
    run_tool beanbag "$round" "$beanbag" bench -m "$model" -p "$prompt" -n "$gen" \
      -t "$threads" -r 1 --json
    # the extra arguments are meant to split into words
    # shellcheck disable=SC2086
    [ -z "$llama" ] || run_tool llama "$round" "$llama" -m "$model" -p "$prompt" -n "$gen" \
      -t "$threads" -r 1 -o json $llama_args
    # shellcheck disable=SC2086
    [ -z "$ik" ] || run_tool ik "$round" "$ik" -m "$model" -p "$prompt" -n "$gen" \
      -t "$threads" -r 1 -o json $ik_args
  done
  tools="beanbag"
  [ -z "$llama" ] || tools="$tools,llama"
  [ -z "$ik" ] || tools="$tools,ik"
  node - "$tmp" "$model" "$tools" "$rounds" <<'JS'
const fs = require("fs");
const [dir, model, toolList, rounds] = process.argv.slice(2);
const tools = toolList.split(",");
const label = { beanbag: "beanbag", llama: "llama.cpp", ik: "ik_llama.cpp" };
// samples[tool][key] = tokens/s of each round; key = "test|threads"
const samples = {};
const order = [];
for (const tool of tools) {
  samples[tool] = {};
  for (let r = 1; r <= Number(rounds); r++) {
    const file = `${dir}/${tool}.${r}.json`;
    if (!fs.existsSync(file)) continue;
    let data;
    try {
      data = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
      console.error(`compare.sh: ${label[tool]} round ${r}: output is not JSON (${e.message})`);
      continue;
    }
    // beanbag: {results: [...]}; llama-bench: [...]; both with llama-bench's field names
    const rows = Array.isArray(data) ? data : data.results || [];
    for (const row of rows) {
      if ((row.n_depth || 0) > 0) continue;
      let test;
      if (row.n_prompt > 0 && row.n_gen === 0) test = `pp${row.n_prompt}`;
      else if (row.n_gen > 0 && row.n_prompt === 0) test = `tg${row.n_gen}`;
      else continue; // llama-bench's combined pp+tg tests have no beanbag counterpart
      const key = `${test}|${row.n_threads}`;
      if (!order.includes(key)) order.push(key);
      (samples[tool][key] ||= []).push(row.avg_ts);
    }
  }
}
const stats = (v) => {
  if (!v || !v.length) return null;
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1
    ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, sd };
};
const fmt = (s) => (s ? `${s.mean.toFixed(2)} ± ${s.sd.toFixed(2)}` : "-");
const others = tools.filter((t) => t !== "beanbag");
// prompt tests first, then generation, each by size and thread count
order.sort((a, b) => {
  const [ta, na] = a.split("|"), [tb, nb] = b.split("|");
  if (ta.slice(0, 2) !== tb.slice(0, 2)) return ta < tb ? -1 : 1;
  return Number(ta.slice(2)) - Number(tb.slice(2)) || Number(na) - Number(nb);
});
const head = ["test", "threads", ...tools.map((t) => `${label[t]} t/s`),
              ...others.map((t) => `beanbag / ${label[t]}`)];
console.log(`\n### ${model.split("/").pop()}\n`);
console.log(`${rounds} rounds, one repetition of each tool per round; t/s is mean ± sample ` +
            `standard deviation over the rounds.\n`);
console.log(`| ${head.join(" | ")} |`);
console.log(`| ${head.map((h, i) => (i === 0 ? "---" : "--:")).join(" | ")} |`);
for (const key of order) {
  const [test, nt] = key.split("|");
  const st = Object.fromEntries(tools.map((t) => [t, stats(samples[t][key])]));
  const ratios = others.map((t) =>
    st.beanbag && st[t] && st[t].mean > 0 ? (st.beanbag.mean / st[t].mean).toFixed(2) : "-");
  console.log(`| ${[test, nt, ...tools.map((t) => fmt(st[t])), ...ratios].join(" | ")} |`);
}
JS
done
