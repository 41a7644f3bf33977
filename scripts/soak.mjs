#!/usr/bin/env node
// The soak's clients (run by scripts/soak.sh, which starts and stops the server): for the
// given minutes, --clients loops send a mix of greedy plain and streamed chat requests,
// sampled ones, streams hung up mid-way, hostile requests and requests past --max-queue,
// while --idle connections are held open (reopened whenever the server cuts them). Checks:
// every greedy answer equals its solo run, hostile requests get their status, RSS stays
// bounded, and /metrics counts exactly the responses the clients received.
// Plain node, no dependencies. Prints a summary; exit status 1 on any failed check.
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const port = Number(args.port), pid = Number(args.pid);
const minutes = Number(args.minutes ?? 1), clients = Number(args.clients ?? 24);
const idleTarget = Number(args.idle ?? 200), maxBody = Number(args['max-body'] ?? 65536);
const deadline = Date.now() + minutes * 60e3;
const agent = new http.Agent({ keepAlive: false });
const failures = [];
const fail = (msg) => { if (failures.length < 50) failures.push(msg); };
const seen = {};   // status -> responses the clients received
const kinds = {};  // kind -> requests sent
const count = (status) => { seen[status] = (seen[status] ?? 0) + 1; };

// One HTTP request; resolves {status, body} (body decoded for plain, raw SSE for streams).
function request(method, path, body, { headers = {}, abortAfter = 0 } = {}) {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = http.request({ host: '127.0.0.1', port, method, path, agent,
      headers: { 'Content-Type': 'application/json',
                 ...(data ? { 'Content-Length': data.length } : {}), ...headers } }, (res) => {
      count(res.statusCode);
      const chunks = [];
      let got = 0;
      res.on('data', (c) => {
        chunks.push(c);
        got++;
        if (abortAfter && got >= abortAfter) { req.destroy(); resolve({ status: res.statusCode, aborted: true }); }
      });
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', () => resolve({ status: res.statusCode, error: true }));
    });
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    req.setTimeout(120e3, () => { req.destroy(); resolve({ status: 0, error: 'timeout' }); });
    if (data) req.write(data);
    req.end();
  });
}

// Raw bytes on a socket; resolves the status of the first response line (0: none).
function raw(bytes, { half = false } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.on('connect', () => {
      s.write(bytes);
      if (half) { s.destroy(); resolve(0); }
    });
    s.on('data', (d) => { buf += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
      if (m) count(Number(m[1]));
      resolve(m ? Number(m[1]) : 0);
    });
    s.setTimeout(30e3, () => s.destroy());
  });
}

const questions = ['What is 128 + 47?', 'What is 93 - 58?', 'What is 12 x 7?',
  'How many grams are in 3 kilograms?', 'Which is larger, 418 or 481?', '36 加 45 等于多少？',
  'What is 600 - 1?', 'How many centimeters are in 2 meters?'];
const chat = (q, extra = {}) => JSON.stringify({
  messages: [{ role: 'user', content: q }], max_tokens: 24, temperature: 0, ...extra });
const sseText = (body) => body.split('\n').filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
  .map((l) => JSON.parse(l.slice(6))).map((c) => c.choices?.[0]?.delta?.content ?? '').join('');

const solo = {};
async function soloRuns() {
  for (const q of questions) {
    const r = await request('POST', '/v1/chat/completions', chat(q));
    if (r.status !== 200) { fail(`solo run of '${q}': status ${r.status}`); continue; }
    solo[q] = JSON.parse(r.body).choices[0].message.content;
  }
}

// Hostile requests and the status each must get (answered by beanbag, so /metrics counts them).
const big = 'x'.repeat(maxBody + 1000);
const hostile = [
  ['bad JSON', () => request('POST', '/v1/chat/completions', '{"messages": ['), 400],
  ['unknown parameter', () => request('POST', '/v1/chat/completions', chat('hi', { bogus: 1 })), 400],
  ['invalid UTF-8', () => request('POST', '/v1/chat/completions', Buffer.from('{"messages":[{"role":"user","content":"\xff"}]}', 'latin1')), 400],
  ['over --max-body', () => request('POST', '/v1/chat/completions', big), 413],
  ['over --max-body, chunked', () => raw('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' +
      `${(maxBody + 10).toString(16)}\r\n${'y'.repeat(maxBody + 10)}\r\n0\r\n\r\n`), 413],
  ['wrong method', () => request('GET', '/v1/chat/completions'), 405],
  ['no such route', () => request('GET', '/v2/nothing'), 404],
  ['unknown transfer coding', () => raw('POST /tokenize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\nabc'), 501],
  ['half a request, then gone', () => raw('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"mess', { half: true }), 0],
  ['prompt past the context', () => request('POST', '/v1/chat/completions', chat('a '.repeat(30000))), 400],
];

// Idle connections: opened, never used; the server cuts them at --timeout, we reopen them.
let idleOpen = 0, idleOpened = 0;
function keepIdle() {
  while (idleOpen < idleTarget && Date.now() < deadline) {
    idleOpen++;
    idleOpened++;
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.on('close', () => { idleOpen--; setTimeout(keepIdle, 100); });
  }
}

const rss = [];
function sampleRss() {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) rss.push(Number(m[1]) / 1024);
  } catch { /* gone */ }
}

let checked = 0, overloaded = 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function worker(id) {
  let i = 0;
  while (Date.now() < deadline) {
    const q = questions[(id + i++) % questions.length];
    const roll = Math.random();
    let kind;
    if (roll < 0.35) {
      kind = 'greedy';
      const r = await request('POST', '/v1/chat/completions', chat(q));
      if (r.status === 200 && JSON.parse(r.body).choices[0].message.content !== solo[q])
        fail(`greedy '${q}' differs from its solo run`);
      else if (r.status !== 200 && r.status !== 503) fail(`greedy: status ${r.status} ${r.error ?? ''}`);
      checked += r.status === 200;
    } else if (roll < 0.6) {
      kind = 'greedy stream';
      const r = await request('POST', '/v1/chat/completions', chat(q, { stream: true }));
      if (r.status === 200 && sseText(r.body) !== solo[q]) fail(`streamed '${q}' differs from its solo run`);
      else if (r.status !== 200 && r.status !== 503) fail(`stream: status ${r.status} ${r.error ?? ''}`);
      checked += r.status === 200;
    } else if (roll < 0.7) {
      kind = 'hung up mid-stream';
      await request('POST', '/v1/chat/completions', chat(q, { stream: true, max_tokens: 400 }), { abortAfter: 3 });
    } else if (roll < 0.8) {
      kind = 'sampled';
      const r = await request('POST', '/v1/completions', JSON.stringify({ prompt: q, max_tokens: 16, temperature: 0.9, seed: i }));
      if (r.status !== 200 && r.status !== 503) fail(`sampled: status ${r.status}`);
    } else {
      const [name, send, want] = hostile[Math.floor(Math.random() * hostile.length)];
      kind = `hostile: ${name}`;
      const r = await send();
      const status = typeof r === 'number' ? r : r.status;
      if (status !== want && status !== 503) fail(`${name}: status ${status}, want ${want}`);
    }
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    // a full queue says Retry-After; a client waiting a little keeps the overload realistic
    if (seen[503] > overloaded) { overloaded = seen[503]; await sleep(50 + Math.random() * 200); }
  }
}

async function metricsCounts() {
  const r = await request('GET', '/metrics');
  seen[200]--; // this response is not in the figures it carries
  const counts = {};
  for (const m of r.body.matchAll(/^beanbag_http_requests_total\{code="(\d+)"\} (\d+)$/gm)) counts[m[1]] = Number(m[2]);
  return counts;
}

await soloRuns();
keepIdle();
sampleRss();
const rssTimer = setInterval(sampleRss, 2000);
await Promise.all(Array.from({ length: clients }, (_, id) => worker(id)));
clearInterval(rssTimer);
sampleRss();
await new Promise((r) => setTimeout(r, 500)); // lingering closes and counters settle
const counts = await metricsCounts();
for (const code of new Set([...Object.keys(counts), ...Object.keys(seen)]))
  if ((counts[code] ?? 0) !== (seen[code] ?? 0))
    fail(`/metrics counts ${counts[code] ?? 0} responses with status ${code}, the clients got ${seen[code] ?? 0}`);
// RSS: after the first quarter (caches, arenas warmed up) it may not keep growing
const warm = rss[Math.floor(rss.length / 4)] ?? rss[0], last = rss[rss.length - 1];
if (checked === 0) fail('no greedy answer was checked');
if (!seen[503]) fail('the load never went past --max-queue');
if (last > warm * 1.5 + 64) fail(`RSS grew from ${warm.toFixed(0)} MiB to ${last.toFixed(0)} MiB`);
const total = Object.values(kinds).reduce((a, b) => a + b, 0);
console.log(`soak: ${minutes} min, ${clients} clients, ${total} requests, ${idleOpened} idle connections opened (${idleTarget} held)`);
for (const [k, n] of Object.entries(kinds).sort()) console.log(`  ${k}: ${n}`);
console.log(`  responses by status: ${JSON.stringify(seen)}; greedy answers equal to their solo runs: ${checked}`);
console.log(`  server RSS: ${Math.min(...rss).toFixed(0)}..${Math.max(...rss).toFixed(0)} MiB (warm ${warm?.toFixed(0)}, last ${last?.toFixed(0)})`);
for (const f of failures) console.log(`FAIL: ${f}`);
process.exit(failures.length ? 1 : 0);
