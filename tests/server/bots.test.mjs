// A bot used through the official `openai` package: its id as the model, whole and streamed
// (the same text both ways), listed by models.list. Run by tests/test_bots.c with BB_URL,
// BB_KEY (a user key) and BB_BOT set; exits non-zero on the first failed assertion.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.BB_URL, apiKey: process.env.BB_KEY, maxRetries: 0 });
const model = process.env.BB_BOT;
const messages = [{ role: 'user', content: 'What do beans like?' }];

const models = await client.models.list();
assert.ok(models.data.some((m) => m.id === model), 'the bot is listed as a model');

const whole = await client.chat.completions.create({ model, messages, metadata: { user_name: 'Node' } });
const text = whole.choices[0].message.content;
assert.equal(typeof text, 'string');
assert.ok(whole.usage.prompt_tokens > 20, 'the persona is in the prompt');

const stream = await client.chat.completions.create({
  model, messages, metadata: { user_name: 'Node' }, stream: true, stream_options: { include_usage: true },
});
let streamed = '';
let usage = null;
for await (const chunk of stream) {
  if (chunk.choices.length) streamed += chunk.choices[0].delta.content ?? '';
  if (chunk.usage) usage = chunk.usage;
}
assert.equal(streamed, text, 'streamed text equals the whole answer');
assert.ok(usage && usage.prompt_tokens_details.cached_tokens > 0, 'the persona came from the cache');

await assert.rejects(
  client.chat.completions.create({ model, messages, temperature: 1.5 }),
  (e) => e.status === 400 && /temperature/.test(e.message),
  'a setting the bot does not allow is refused',
);
console.log('bots.test.mjs: ok');
