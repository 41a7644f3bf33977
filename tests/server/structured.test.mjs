// Structured output through the official `openai` package: response_format json_schema (and
// json_object, and the `grammar` extension), streamed and not, every answer parsed and validated
// with ajv. The test model has random weights, so only the grammar makes the output valid; the
// schema bounds every string and array, so each answer ends well within max_tokens.
// Run by tests/test_server.c with BB_URL (…/v1), BB_KEY and BB_MODEL set.
import assert from 'node:assert/strict';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import OpenAI from 'openai';

const model = process.env.BB_MODEL;
const client = new OpenAI({ baseURL: process.env.BB_URL, apiKey: process.env.BB_KEY, maxRetries: 0 });
const messages = [{ role: 'user', content: 'Describe a person as JSON.' }];
let checks = 0;
function ok(cond, msg) {
  assert.ok(cond, msg);
  checks++;
}

const schema = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 8 },
    age: { type: 'integer', minimum: 0, maximum: 130 },
    role: { enum: ['admin', 'user', 'guest'] },
    tags: { type: 'array', items: { type: 'string', maxLength: 4 }, maxItems: 3 },
    address: {
      type: 'object',
      properties: {
        zip: { type: 'string', pattern: '^[0-9]{5}$' },
        since: { type: 'string', format: 'date' },
        geo: { $ref: '#/$defs/point' },
      },
      required: ['zip', 'since'],
      additionalProperties: false,
    },
    score: { anyOf: [{ type: 'null' }, { type: 'number', minimum: 0, maximum: 10 }] },
    active: { type: 'boolean' },
  },
  required: ['name', 'age', 'role', 'tags', 'address', 'active'],
  additionalProperties: false,
  $defs: {
    point: {
      type: 'object',
      properties: { x: { type: 'integer', minimum: -90, maximum: 90 }, y: { const: 0 } },
      required: ['x', 'y'],
      additionalProperties: false,
    },
  },
};
const ajv = new Ajv({ strict: true });
addFormats(ajv);
const validate = ajv.compile(schema);
const responseFormat = { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } };

function checkJson(text, what) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    assert.fail(`${what}: not JSON (${e.message}): ${text}`);
  }
  ok(validate(value), `${what}: ${ajv.errorsText(validate.errors)} in ${text}`);
  return value;
}

async function main() {
  for (const seed of [1, 2, 3]) {
    const params = { model, messages, response_format: responseFormat, max_tokens: 1500, temperature: 1, seed };
    const whole = await client.chat.completions.create(params);
    const text = whole.choices[0].message.content;
    ok(whole.choices[0].finish_reason === 'stop', `seed ${seed}: finished (${whole.choices[0].finish_reason})`);
    checkJson(text, `seed ${seed}`);

    const stream = await client.chat.completions.create({ ...params, stream: true });
    let streamed = '';
    let finish = null;
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    ok(finish === 'stop', `seed ${seed}: the stream finished`);
    ok(streamed === text, `seed ${seed}: streamed == whole:\n${streamed}\n${text}`);
  }

  // Greedy, on the completions endpoint too.
  const greedy = await client.completions.create({
    model, prompt: 'JSON:', response_format: responseFormat, max_tokens: 1500, temperature: 0,
  });
  ok(greedy.choices[0].finish_reason === 'stop', 'completions: finished');
  checkJson(greedy.choices[0].text, 'completions');

  // json_object: the answer opens an object at once.
  const obj = await client.chat.completions.create({
    model, messages, response_format: { type: 'json_object' }, max_tokens: 4, temperature: 1, seed: 5,
  });
  ok(obj.choices[0].message.content.startsWith('{'), `json_object: ${obj.choices[0].message.content}`);

  // The GBNF extension.
  const yesNo = await client.chat.completions.create({
    model, messages, max_tokens: 8, temperature: 1, seed: 7, grammar: 'root ::= ("yes" | "no") "!"',
  });
  ok(['yes!', 'no!'].includes(yesNo.choices[0].message.content), `grammar: ${yesNo.choices[0].message.content}`);

  // A forced tool call is enforced by the grammar engine: on random weights, tool_choice
  // "required" and a named function still return a well-formed call whose arguments validate
  // against the function's parameters, streamed and not.
  const weather = {
    type: 'object',
    properties: {
      city: { type: 'string', minLength: 1, maxLength: 6 },
      days: { type: 'integer', minimum: 1, maximum: 7 },
      unit: { enum: ['c', 'f'] },
    },
    required: ['city', 'days', 'unit'],
    additionalProperties: false,
  };
  const tools = [
    { type: 'function', function: { name: 'get_weather', parameters: weather } },
    { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { enum: ['utc', 'cet'] } }, required: ['tz'], additionalProperties: false } } },
  ];
  const validateWeather = ajv.compile(weather);
  for (const [choice, seed] of [['required', 3], [{ type: 'function', function: { name: 'get_weather' } }, 4]]) {
    const args = { model, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools, tool_choice: choice, parallel_tool_calls: false, max_tokens: 96, temperature: 1, seed };
    const whole = await client.chat.completions.create(args);
    const c = whole.choices[0];
    ok(c.finish_reason === 'tool_calls', `${JSON.stringify(choice)}: finish_reason ${c.finish_reason}: ${JSON.stringify(c.message)}`);
    ok(c.message.tool_calls?.length === 1, `${JSON.stringify(choice)}: one call`);
    const call = c.message.tool_calls[0].function;
    if (typeof choice === 'object') ok(call.name === 'get_weather', `named call: ${call.name}`);
    else ok(['get_weather', 'get_time'].includes(call.name), `required call: ${call.name}`);
    const parsed = JSON.parse(call.arguments);
    if (call.name === 'get_weather') ok(validateWeather(parsed), `arguments ${call.arguments}: ${JSON.stringify(validateWeather.errors)}`);
    else ok(['utc', 'cet'].includes(parsed.tz) && Object.keys(parsed).length === 1, `arguments ${call.arguments}`);
    const stream = await client.chat.completions.create({ ...args, stream: true });
    let name = '';
    let argText = '';
    for await (const chunk of stream) {
      for (const t of chunk.choices[0]?.delta?.tool_calls ?? []) {
        name += t.function?.name ?? '';
        argText += t.function?.arguments ?? '';
      }
    }
    ok(name === call.name && argText === call.arguments, `streamed call equals the whole one: ${name} ${argText}`);
  }

  // Bad schemas and grammars are 400s that say what is wrong.
  const bad = [
    [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'integer', multipleOf: 3 } } } }, /multipleOf/],
    [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { not: {} } } } } } }, /\/properties\/a: unsupported keyword 'not'/],
    [{ response_format: { type: 'xml' } }, /response_format/],
    [{ grammar: 'root ::= "a" |\n  ( "b"' }, /line 2, column 3/],
  ];
  for (const [extra, want] of bad) {
    let status = 0;
    let message = '';
    try {
      await client.chat.completions.create({ model, messages, max_tokens: 4, ...extra });
    } catch (e) {
      status = e.status;
      message = e.message;
    }
    ok(status === 400 && want.test(message), `${JSON.stringify(extra)}: ${status} ${message}`);
  }
  console.log(`structured output: ${checks} checks passed`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
