// Drives a running beanbag server with the official `openai` package, the way real clients do.
// Run by tests/test_server.c with BB_URL (…/v1), BB_KEY and BB_MODEL set; exits non-zero on
// the first failed assertion.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';

const baseURL = process.env.BB_URL;
const model = process.env.BB_MODEL;
const client = new OpenAI({ baseURL, apiKey: process.env.BB_KEY, maxRetries: 0 });
const messages = [{ role: 'user', content: 'Tell me something about beans.' }];
let checks = 0;

function ok(cond, msg) {
  assert.ok(cond, msg);
  checks++;
}

// Token ids that end generation, to be forbidden when a test needs a fixed length.
async function eogBias() {
  const root = baseURL.replace(/\/v1$/, '');
  const bias = {};
  for (const text of ['<|im_end|>', '<|endoftext|>']) {
    const r = await fetch(`${root}/tokenize`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${process.env.BB_KEY}` },
      body: JSON.stringify({ content: text }),
    });
    const { tokens } = await r.json();
    if (tokens.length === 1) bias[String(tokens[0])] = -100;
  }
  return bias;
}

async function main() {
  const bias = await eogBias();

  const models = await client.models.list();
  ok(models.data.some((m) => m.id === model), 'the model is listed');

  const whole = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 16 });
  const text = whole.choices[0].message.content;
  ok(typeof text === 'string' && whole.choices[0].message.role === 'assistant', 'a message');
  ok(['stop', 'length'].includes(whole.choices[0].finish_reason), 'a finish reason');
  ok(whole.usage.total_tokens === whole.usage.prompt_tokens + whole.usage.completion_tokens, 'usage adds up');
  ok(whole.object === 'chat.completion' && whole.model === model, 'object and model');

  const stream = await client.chat.completions.create({
    model, messages, temperature: 0, max_tokens: 16, stream: true, stream_options: { include_usage: true },
  });
  let streamed = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      streamed += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  ok(streamed === text, `streamed text equals the whole one: ${JSON.stringify(streamed)} vs ${JSON.stringify(text)}`);
  ok(finish === whole.choices[0].finish_reason, 'same finish reason');
  ok(usage && usage.completion_tokens === whole.usage.completion_tokens, 'usage chunk');

  const sampled = { model, messages, temperature: 1.0, seed: 42, n: 2, max_tokens: 12, logit_bias: bias };
  const a = await client.chat.completions.create(sampled);
  const b = await client.chat.completions.create(sampled);
  ok(a.choices.length === 2 && a.choices[1].index === 1, 'n = 2 gives two choices');
  ok(a.choices.every((c, i) => c.message.content === b.choices[i].message.content), 'same seed, same choices');
  ok(a.usage.completion_tokens === 24, 'completion tokens of both choices');

  const long = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 40, logit_bias: bias });
  const full = long.choices[0].message.content;
  const at = [...full].findIndex((ch, i) => i >= 3 && /[A-Za-z0-9]/.test(ch) && /[A-Za-z0-9]/.test(full[i + 1] ?? ''));
  if (at > 0) {
    const stop = full.slice(at, at + 2);
    const stopped = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 40, logit_bias: bias, stop: [stop] });
    ok(stopped.choices[0].message.content === full.slice(0, full.indexOf(stop)), `stop ${JSON.stringify(stop)}`);
    ok(stopped.choices[0].finish_reason === 'stop', 'finish reason stop');
  }

  const lp = await client.chat.completions.create({
    model, messages, temperature: 0, max_tokens: 6, logprobs: true, top_logprobs: 2, logit_bias: bias,
  });
  const content = lp.choices[0].logprobs.content;
  ok(content.length === 6, 'one logprob entry per token');
  ok(content.every((t) => t.logprob <= 0 && t.top_logprobs.length === 2 && Array.isArray(t.bytes)), 'logprob entries');

  const c = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 5, temperature: 0, logit_bias: bias });
  ok(c.object === 'text_completion' && typeof c.choices[0].text === 'string' && c.usage.completion_tokens === 5, 'completions');

  await assert.rejects(
    new OpenAI({ baseURL, apiKey: 'wrong', maxRetries: 0 }).models.list(),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401,
  );
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404,
  );
  await assert.rejects(
    client.chat.completions.create({ model, messages, max_tokens: -1 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'max_tokens',
  );
  checks += 3;
  const version = JSON.parse(readFileSync(new URL('./node_modules/openai/package.json', import.meta.url))).version;
  console.log(`openai npm tests: ${checks} checks passed (openai ${version})`);
}

main().catch((e) => {
  console.error('openai npm tests failed:', e);
  process.exit(1);
});
