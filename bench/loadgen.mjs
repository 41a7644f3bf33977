#!/usr/bin/env node
// Load generator for `beanbag serve` (or any OpenAI-compatible server): for each concurrency
// level it keeps that many streaming chat requests in flight and reports the aggregate
// generated tokens per second, time to first token and inter-token latency (p50/p99).
// Plain node:http, no dependencies. Not a test: run it against a server you started.
//
//   node bench/loadgen.mjs [--url http://127.0.0.1:8080] [--key KEY] [--model ID]
//        [--concurrency 1,4,16] [--requests 2] [--max-tokens 64]
//        [--long-prompt-every K] [--long-prompt-tokens 512] [--json]
//
// --requests is per client and level. --long-prompt-every K makes every K-th client of a level
// (clients K-1, 2K-1, ...) send prompts of about --long-prompt-tokens tokens, so long prompts
// are read while the other clients stream: the mix that shows whether prefill stalls decoding.
// Their TTFT is reported apart, since it includes reading the long prompt. Tokens are counted from the usage the server reports
// (stream_options.include_usage); inter-token latency is the gap between content chunks,
// each of which carries one token unless a stop string held text back.
import http from 'node:http';

function parseArgs(argv) {
  const o = { url: 'http://127.0.0.1:8080', key: process.env.BEANBAG_API_KEY ?? '', model: '',
              concurrency: [1, 4, 16], requests: 2, maxTokens: 64, longEvery: 0,
              longTokens: 512, json: false };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--url') o.url = next();
    else if (a === '--key') o.key = next();
    else if (a === '--model') o.model = next();
    else if (a === '--concurrency') o.concurrency = next().split(',').map(Number);
    else if (a === '--requests') o.requests = Number(next());
    else if (a === '--max-tokens') o.maxTokens = Number(next());
    else if (a === '--long-prompt-every') o.longEvery = Number(next());
    else if (a === '--long-prompt-tokens') o.longTokens = Number(next());
    else if (a === '--json') o.json = true;
    else if (a === '-h' || a === '--help') {
      console.log('usage: node bench/loadgen.mjs [--url URL] [--key KEY] [--model ID] ' +
                  '[--concurrency 1,4,16] [--requests N] [--max-tokens N] [--long-prompt-every K] ' +
                  '[--long-prompt-tokens N] [--json]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (o.concurrency.some((c) => !(c >= 1)) || !(o.requests >= 1) || !(o.maxTokens >= 1) ||
      !(o.longEvery >= 0) || !(o.longTokens >= 1))
    throw new Error('--concurrency, --requests, --max-tokens and --long-prompt-tokens must be ' +
                    'positive, --long-prompt-every at least 0');
  return o;
}

// A fresh connection per request: llama-server closes a streamed response's connection,
// and a kept-alive socket the server has closed fails the next request ("socket hang up").
const agent = new http.Agent({ keepAlive: false, maxSockets: 256 });

function request(o, method, path, body) {
  const url = new URL(path, o.url);
  const headers = { 'Content-Type': 'application/json' };
  if (o.key) headers.Authorization = `Bearer ${o.key}`;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, resolve);
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

async function readJson(res) {
  let data = '';
  for await (const chunk of res) data += chunk;
  return JSON.parse(data);
}

// One streamed request: TTFT, the gaps between content chunks, and the completion tokens.
async function streamOne(o, prompt, seed) {
  const t0 = performance.now();
  const res = await request(o, 'POST', '/v1/chat/completions', {
    model: o.model, messages: [{ role: 'user', content: prompt }], max_tokens: o.maxTokens,
    temperature: 0.8, seed, stream: true, stream_options: { include_usage: true },
  });
  if (res.statusCode !== 200) {
    const err = await readJson(res).catch(() => ({}));
    throw new Error(`status ${res.statusCode}: ${err.error?.message ?? ''}`);
  }
  let buf = '';
  let first = null;
  let last = null;
  const gaps = [];
  let tokens = 0;
  for await (const chunk of res) {
    buf += chunk;
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, end);
      buf = buf.slice(end + 2);
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const msg = JSON.parse(event.slice(6));
      if (msg.error) throw new Error(msg.error.message);
      if (msg.usage) tokens = msg.usage.completion_tokens;
      if (msg.choices?.some((c) => c.delta?.content)) {
        const now = performance.now();
        if (first === null) first = now - t0;
        else gaps.push(now - last);
        last = now;
      }
    }
  }
  return { ttft: first ?? performance.now() - t0, gaps, tokens };
}

function pct(values, p) {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

// Filler text of about n tokens: a sentence repeated, its length measured once with the
// server's /tokenize (the same tokenizer the prompt goes through).
const FILLER = 'Beans are seeds of plants in the legume family, eaten around the world. ';
let fillerTokens = 0;
async function longText(o, n) {
  if (!fillerTokens) {
    const res = await request(o, 'POST', '/tokenize', { content: FILLER });
    fillerTokens = res.statusCode === 200 ? (await readJson(res)).tokens.length : 16;
    if (!(fillerTokens >= 1)) fillerTokens = 16;
  }
  return FILLER.repeat(Math.max(1, Math.round(n / fillerTokens)));
}

async function level(o, c) {
  const ttfts = [];
  const longTtfts = [];
  const gaps = [];
  let tokens = 0;
  const filler = o.longEvery ? await longText(o, o.longTokens) : '';
  const t0 = performance.now();
  await Promise.all(Array.from({ length: c }, async (_, w) => {
    const long = o.longEvery > 0 && (w + 1) % o.longEvery === 0;
    for (let r = 0; r < o.requests; r++) {
      const ask = `Request ${w}.${r}: write a few sentences about beans, topic number ${w * 31 + r}.`;
      // The request's own words first, so no two long prompts share a prefix.
      const prompt = long ? `${ask}\n\n${filler}` : ask;
      const res = await streamOne(o, prompt, w * 1000 + r);
      (long ? longTtfts : ttfts).push(res.ttft);
      gaps.push(...res.gaps);
      tokens += res.tokens;
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  return { concurrency: c, requests: c * o.requests, long_requests: longTtfts.length, tokens,
           seconds: secs, tokens_per_s: tokens / secs,
           ttft_ms: { p50: pct(ttfts, 50), p99: pct(ttfts, 99) },
           long_ttft_ms: { p50: pct(longTtfts, 50), p99: pct(longTtfts, 99) },
           inter_token_ms: { p50: pct(gaps, 50), p99: pct(gaps, 99) } };
}

async function main() {
  const o = parseArgs(process.argv);
  if (!o.model) {
    const res = await request(o, 'GET', '/v1/models');
    if (res.statusCode !== 200) throw new Error(`GET /v1/models: status ${res.statusCode}`);
    o.model = (await readJson(res)).data[0].id;
  }
  const results = [];
  for (const c of o.concurrency) results.push(await level(o, c));
  if (o.json) {
    console.log(JSON.stringify({ model: o.model, max_tokens: o.maxTokens, results }, null, 2));
  } else {
    const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
    console.log(`model ${o.model}, max_tokens ${o.maxTokens}, ${o.requests} request(s) per client` +
                (o.longEvery ? `, every ${o.longEvery}th client ~${o.longTokens}-token prompts` : ''));
    console.log('streams  requests  tokens   tok/s  speedup  TTFT p50/p99 ms  inter-token p50/p99 ms' +
                (o.longEvery ? '  long TTFT p50/p99 ms' : ''));
    for (const r of results) {
      console.log(`${String(r.concurrency).padStart(7)}  ${String(r.requests).padStart(8)}  ` +
                  `${String(r.tokens).padStart(6)}  ${f(r.tokens_per_s).padStart(6)}  ` +
                  `${f(r.tokens_per_s / results[0].tokens_per_s, 2).padStart(7)}  ` +
                  `${(f(r.ttft_ms.p50) + '/' + f(r.ttft_ms.p99)).padStart(15)}  ` +
                  `${(f(r.inter_token_ms.p50) + '/' + f(r.inter_token_ms.p99)).padStart(22)}` +
                  (o.longEvery ? `  ${(f(r.long_ttft_ms.p50) + '/' + f(r.long_ttft_ms.p99)).padStart(20)}`
                               : ''));
    }
  }
  agent.destroy();
}

main().catch((e) => {
  console.error(`loadgen: ${e.message}`);
  process.exit(1);
});
