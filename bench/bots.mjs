#!/usr/bin/env node
// Bot serving benchmark against a running `beanbag serve --data-dir D --admin-key K`:
// creates a bot with a long persona (~--persona-tokens tokens, measured with /tokenize), asks
// it once so the persona is computed (the steady state of a bot with many users), then has
// --users users ask it short questions at once, streaming, and reports time to first token
// p50/p99, aggregate generated tokens/s and the prompt tokens served from the prefix cache.
// Then one user holds an --turns-turn conversation with it through /v1/responses (each turn
// names the previous one with previous_response_id) and it reports per turn the prompt tokens
// and how many of them were computed rather than found cached. Plain node:http, no dependencies.
//
//   node bench/bots.mjs --admin-key K [--key USER_KEY] [--url http://127.0.0.1:8080]
//        [--users 16] [--requests 1] [--persona-tokens 1500] [--max-tokens 32] [--turns 8]
//        [--json]
//
// bench/bots.sh runs it against a server with the prefix cache on and one with it off.
import http from 'node:http';

function parseArgs(argv) {
  const o = { url: 'http://127.0.0.1:8080', adminKey: '', key: '', users: 16, requests: 1,
              personaTokens: 1500, maxTokens: 32, turns: 8, json: false, bot: 'bench-persona' };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--url') o.url = next();
    else if (a === '--admin-key') o.adminKey = next();
    else if (a === '--key') o.key = next();
    else if (a === '--users') o.users = Number(next());
    else if (a === '--requests') o.requests = Number(next());
    else if (a === '--persona-tokens') o.personaTokens = Number(next());
    else if (a === '--max-tokens') o.maxTokens = Number(next());
    else if (a === '--turns') o.turns = Number(next());
    else if (a === '--bot') o.bot = next();
    else if (a === '--json') o.json = true;
    else if (a === '-h' || a === '--help') {
      console.log('usage: node bench/bots.mjs --admin-key K [--key USER_KEY] [--url URL] ' +
                  '[--users 16] [--requests 1] [--persona-tokens 1500] [--max-tokens 32] ' +
                  '[--turns 8] [--bot ID] [--json]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!o.adminKey) throw new Error('--admin-key is required (the bot is made through the admin API)');
  for (const k of ['users', 'requests', 'personaTokens', 'maxTokens', 'turns'])
    if (!(o[k] >= 1)) throw new Error(`--${k} must be positive`);
  if (!o.key) o.key = o.adminKey;
  return o;
}

const agent = new http.Agent({ keepAlive: false, maxSockets: 256 });

function request(o, key, method, path, body) {
  const url = new URL(path, o.url);
  const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` };
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

async function call(o, key, method, path, body) {
  const res = await request(o, key, method, path, body);
  const j = await readJson(res).catch(() => ({}));
  return { status: res.statusCode, body: j };
}

// A persona of about n tokens: a description that grows rule by rule until it is long enough.
async function persona(o, n) {
  const rules = [];
  let text = '';
  for (let i = 0; ; i++) {
    rules.push(`Rule ${i + 1}: for topic ${i + 1}, name variety ${(i * 37) % 101} and its season.`);
    text = `You are Bea, the assistant of a bean shop. ${rules.join(' ')}`;
    const r = await call(o, o.adminKey, 'POST', '/tokenize', { content: text });
    if (r.status !== 200) throw new Error(`/tokenize: status ${r.status}`);
    if (r.body.tokens.length >= n) return { text, tokens: r.body.tokens.length };
  }
}

// One streamed chat request: TTFT, generated and cached tokens.
async function ask(o, messages, seed) {
  const t0 = performance.now();
  const res = await request(o, o.key, 'POST', '/v1/chat/completions', {
    model: o.bot, messages, seed, stream: true, stream_options: { include_usage: true },
  });
  if (res.statusCode !== 200) {
    const err = await readJson(res).catch(() => ({}));
    throw new Error(`status ${res.statusCode}: ${err.error?.message ?? ''}`);
  }
  let buf = '';
  let first = null;
  let text = '';
  let usage = null;
  for await (const chunk of res) {
    buf += chunk;
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, end);
      buf = buf.slice(end + 2);
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const msg = JSON.parse(event.slice(6));
      if (msg.error) throw new Error(msg.error.message);
      if (msg.usage) usage = msg.usage;
      const piece = msg.choices?.[0]?.delta?.content;
      if (piece) {
        if (first === null) first = performance.now() - t0;
        text += piece;
      }
    }
  }
  return { ttft: first ?? performance.now() - t0, text, usage };
}

function pct(values, p) {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function main() {
  const o = parseArgs(process.argv);
  const p = await persona(o, o.personaTokens);
  await call(o, o.adminKey, 'DELETE', `/v1/bots/${o.bot}`);
  const made = await call(o, o.adminKey, 'POST', '/v1/bots', {
    id: o.bot, name: 'Bea', instructions: p.text, temperature: 0, max_tokens: o.maxTokens,
    allow_overrides: ['seed'],
  });
  if (made.status !== 201) throw new Error(`POST /v1/bots: ${made.status} ${made.body.error?.message}`);

  const first = await ask(o, [{ role: 'user', content: 'Hello, who are you?' }], 1);
  const ttfts = [];
  let tokens = 0, prompt = 0, cached = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: o.users }, async (_, u) => {
    for (let r = 0; r < o.requests; r++) {
      const res = await ask(o, [{ role: 'user', content: `Customer ${u}: which beans suit a soup, question ${r}?` }], u * 100 + r);
      ttfts.push(res.ttft);
      tokens += res.usage?.completion_tokens ?? 0;
      prompt += res.usage?.prompt_tokens ?? 0;
      cached += res.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    }
  }));
  const secs = (performance.now() - t0) / 1000;

  // The conversation through the Responses API: each turn names the previous one.
  const turns = [];
  let prev = null;
  for (let t = 0; t < o.turns; t++) {
    const t1 = performance.now();
    const r = await call(o, o.key, 'POST', '/v1/responses', {
      model: o.bot, input: `Turn ${t + 1}: tell me one more thing about bean number ${t * 7}.`,
      previous_response_id: prev, seed: 7,
    });
    if (r.status !== 200) throw new Error(`POST /v1/responses: ${r.status} ${r.body.error?.message}`);
    prev = r.body.id;
    const pt = r.body.usage.input_tokens, ct = r.body.usage.input_tokens_details.cached_tokens;
    turns.push({ turn: t + 1, prompt_tokens: pt, cached_tokens: ct, computed_tokens: pt - ct,
                 ms: performance.now() - t1 });
  }
  const out = {
    persona_tokens: p.tokens, users: o.users, requests: o.users * o.requests,
    first_request: { ttft_ms: first.ttft, cached_tokens: first.usage?.prompt_tokens_details?.cached_tokens ?? 0 },
    ttft_ms: { p50: pct(ttfts, 50), p99: pct(ttfts, 99) }, seconds: secs,
    tokens, tokens_per_s: tokens / secs, prompt_tokens: prompt, cached_tokens: cached, turns,
  };
  await call(o, o.adminKey, 'DELETE', `/v1/bots/${o.bot}`);
  if (o.json) {
    console.log(JSON.stringify(out, null, 2));
  } else {
    const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
    console.log(`persona ${out.persona_tokens} tokens; first request TTFT ${f(out.first_request.ttft_ms)} ms`);
    console.log(`${o.users} users x ${o.requests}: TTFT p50 ${f(out.ttft_ms.p50)} ms, p99 ${f(out.ttft_ms.p99)} ms, ` +
                `${f(out.tokens_per_s)} tok/s, ${out.cached_tokens} of ${out.prompt_tokens} prompt tokens cached`);
    console.log('turn  prompt  cached  computed  time ms');
    for (const t of turns)
      console.log(`${String(t.turn).padStart(4)}  ${String(t.prompt_tokens).padStart(6)}  ` +
                  `${String(t.cached_tokens).padStart(6)}  ${String(t.computed_tokens).padStart(8)}  ${f(t.ms).padStart(7)}`);
  }
  agent.destroy();
}

main().catch((e) => {
  console.error(`bots: ${e.message}`);
  process.exit(1);
});
