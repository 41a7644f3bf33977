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

// The Responses API: a conversation continued with previous_response_id, whole and streamed
// (the streamed text and the completed event's response agree with the whole answer).
const plain = process.env.BB_MODEL;
const r1 = await client.responses.create({ model: plain, input: 'Tell me about beans', temperature: 0, max_output_tokens: 10 });
assert.equal(r1.status, 'completed');
assert.equal(typeof r1.output_text, 'string');
const r2 = await client.responses.create({
  model: plain, previous_response_id: r1.id, input: 'And soup?', temperature: 0, max_output_tokens: 10,
});
assert.equal(r2.previous_response_id, r1.id);
assert.ok(r2.usage.input_tokens_details.cached_tokens > 0, 'the first turn came from the cache');
const events = await client.responses.create({
  model: plain, previous_response_id: r1.id, input: 'And soup?', temperature: 0, max_output_tokens: 10,
  stream: true, store: false,
});
let deltas = '';
let completed = null;
const types = [];
for await (const ev of events) {
  types.push(ev.type);
  if (ev.type === 'response.output_text.delta') deltas += ev.delta;
  if (ev.type === 'response.completed') completed = ev.response;
}
assert.equal(types[0], 'response.created');
assert.equal(types.at(-1), 'response.completed');
assert.equal(deltas, r2.output_text, 'streamed deltas equal the whole answer');
assert.equal(completed.output[0].content[0].text, r2.output_text);
const got = await client.responses.retrieve(r2.id);
assert.equal(got.id, r2.id);
await client.responses.delete(r2.id);
await assert.rejects(client.responses.retrieve(r2.id), (e) => e.status === 404, 'deleted');
console.log('bots.test.mjs: responses ok');
