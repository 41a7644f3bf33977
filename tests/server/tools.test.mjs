// Tool calling and reasoning through the official `openai` package, against a server that
// runs the scripted fixture model (tests/scripted_model.h): its greedy reply is a tool call in
// the Hermes syntax its template teaches, or, when logit_bias bans the token "<tool", a reply
// that thinks in <think>...</think> and then answers. The markers <tool_call> and </think>
// come split across two tokens ("<tool" "_call>", "\n</thi" "nk>"), so the streams show that
// text which may begin a marker is held back. Run by tests/test_server.c with
// BB_URL, BB_KEY and BB_MODEL set; exits non-zero on the first failed assertion.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.BB_URL;
const model = process.env.BB_MODEL;
const client = new OpenAI({ baseURL, apiKey: process.env.BB_KEY, maxRetries: 0 });
let checks = 0;

function ok(cond, msg) {
  assert.ok(cond, msg);
  checks++;
}

const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Get the current weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
        required: ['city'],
        additionalProperties: false,
      },
    },
  },
  { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
];
const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];

// The function's parameters as a check: required present, no others, types and enums.
function validArgs(json) {
  const args = JSON.parse(json);
  const schema = tools[0].function.parameters;
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return false;
  for (const r of schema.required) if (!(r in args)) return false;
  for (const [k, v] of Object.entries(args)) {
    const p = schema.properties[k];
    if (!p || typeof v !== p.type) return false;
    if (p.enum && !p.enum.includes(v)) return false;
  }
  return true;
}

async function tokenId(text) {
  const root = baseURL.replace(/\/v1$/, '');
  const r = await fetch(`${root}/tokenize`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${process.env.BB_KEY}` },
    body: JSON.stringify({ content: text }),
  });
  const { tokens } = await r.json();
  assert.equal(tokens.length, 1, `${text} is one token`);
  return tokens[0];
}

// Streams a request and puts the deltas back together as OpenAI's SDK users do.
async function streamed(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true });
  const msg = { content: '', reasoning: '', calls: [] };
  let finish = null;
  let headers = 0;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      const d = c.delta;
      msg.content += d.content ?? '';
      msg.reasoning += d.reasoning_content ?? '';
      for (const t of d.tool_calls ?? []) {
        ok(Number.isInteger(t.index), 'each tool-call delta has an index');
        if (t.id) {
          headers++;
          ok(t.index === msg.calls.length && t.type === 'function' && typeof t.function.name === 'string',
            'a call starts with index, id, type and name');
          msg.calls.push({ id: t.id, type: t.type, function: { name: t.function.name, arguments: '' } });
        }
        ok(msg.calls[t.index], 'fragments follow their call header');
        msg.calls[t.index].function.arguments += t.function?.arguments ?? '';
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { msg, finish, headers };
}

function wellFormed(call) {
  return /^call_[A-Za-z0-9]{24}$/.test(call.id) && call.type === 'function' &&
    typeof call.function.name === 'string' && typeof call.function.arguments === 'string';
}

async function main() {
  const base = { model, messages, tools, temperature: 0, max_tokens: 64 };

  // auto: the model calls the tool.
  const whole = await client.chat.completions.create(base);
  const m = whole.choices[0].message;
  ok(whole.choices[0].finish_reason === 'tool_calls', `finish_reason tool_calls: ${whole.choices[0].finish_reason}`);
  ok(m.content === null, `content null beside the call: ${JSON.stringify(m.content)}`);
  ok(m.tool_calls?.length === 1 && wellFormed(m.tool_calls[0]), `one well-formed call: ${JSON.stringify(m.tool_calls)}`);
  ok(m.tool_calls[0].function.name === 'get_weather', 'the function name');
  ok(validArgs(m.tool_calls[0].function.arguments), `arguments validate: ${m.tool_calls[0].function.arguments}`);
  ok(JSON.parse(m.tool_calls[0].function.arguments).city === 'Paris', 'the argument');

  // The same streamed: deltas reassembled equal the whole response (ids aside).
  const s = await streamed(base);
  ok(s.finish === 'tool_calls' && s.headers === 1, 'streamed finish and one call header');
  ok(s.msg.content === '', `no streamed content: ${JSON.stringify(s.msg.content)}`);
  ok(s.msg.calls.length === 1 && wellFormed(s.msg.calls[0]), 'streamed call well formed');
  ok(s.msg.calls[0].function.name === m.tool_calls[0].function.name &&
    s.msg.calls[0].function.arguments === m.tool_calls[0].function.arguments,
  `streamed call equals the whole one: ${JSON.stringify(s.msg.calls[0])}`);

  // required and a named function: a call, arguments valid, streamed equal to whole.
  for (const tool_choice of ['required', { type: 'function', function: { name: 'get_weather' } }]) {
    const r = await client.chat.completions.create({ ...base, tool_choice });
    const c = r.choices[0].message.tool_calls;
    ok(r.choices[0].finish_reason === 'tool_calls' && c?.length === 1 && wellFormed(c[0]),
      `${JSON.stringify(tool_choice)}: a call: ${JSON.stringify(r.choices[0].message)}`);
    ok(c[0].function.name === 'get_weather' && validArgs(c[0].function.arguments),
      `${JSON.stringify(tool_choice)}: arguments validate: ${c[0].function.arguments}`);
    const rs = await streamed({ ...base, tool_choice });
    ok(rs.msg.calls.length === 1 && rs.msg.calls[0].function.arguments === c[0].function.arguments &&
      rs.msg.calls[0].function.name === c[0].function.name && rs.finish === 'tool_calls',
    `${JSON.stringify(tool_choice)}: streamed equals whole`);
  }

  // none: tools are not offered and nothing is parsed, as OpenAI does.
  const none = await client.chat.completions.create({ ...base, tool_choice: 'none' });
  ok(!none.choices[0].message.tool_calls && none.choices[0].finish_reason === 'stop',
    `tool_choice none: no calls: ${JSON.stringify(none.choices[0])}`);
  ok(none.usage.prompt_tokens < whole.usage.prompt_tokens, 'tool_choice none: the tools left the prompt');

  // Round trip: the call, the tool's result, then the answer (chosen by banning the token
  // "<tool": the scripted model then thinks and answers).
  const bias = { [String(await tokenId('<tool'))]: -100 };
  const call = m.tool_calls[0];
  const turn2 = [
    ...messages,
    { role: 'assistant', content: null, tool_calls: [call] },
    { role: 'tool', tool_call_id: call.id, content: JSON.stringify({ temperature: 18, unit: 'celsius' }) },
  ];
  const answer = await client.chat.completions.create({ ...base, messages: turn2, logit_bias: bias });
  const a = answer.choices[0];
  ok(a.finish_reason === 'stop' && !a.message.tool_calls, `the answer is no call: ${JSON.stringify(a)}`);
  ok(a.message.content === 'It is 18 degrees in Paris.', `the answer: ${JSON.stringify(a.message.content)}`);
  ok(a.message.reasoning_content === 'The user wants the weather.',
    `reasoning_content: ${JSON.stringify(a.message.reasoning_content)}`);
  ok(answer.usage.prompt_tokens > whole.usage.prompt_tokens + 10, 'the call and its result are in the prompt');
  const as = await streamed({ ...base, messages: turn2, logit_bias: bias });
  ok(as.msg.content === a.message.content && as.msg.reasoning === a.message.reasoning_content &&
    as.finish === 'stop' && as.msg.calls.length === 0, `streamed answer: ${JSON.stringify(as)}`);

  // chat_template_kwargs reach the template: enable_thinking false adds the empty block.
  const think = await client.chat.completions.create({ ...base, chat_template_kwargs: { enable_thinking: false } });
  ok(think.usage.prompt_tokens > whole.usage.prompt_tokens, 'enable_thinking: false changes the prompt');

  // Bad messages: 400 naming the field, as the SDK raises them.
  for (const [bad, param] of [
    [[{ role: 'wizard', content: 'hi' }], 'messages[0].role'],
    [[...messages, { role: 'tool', content: '18' }], 'messages[1].tool_call_id'],
    [[...messages, { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f' } }] }],
      'messages[1].tool_calls[0].function.arguments'],
  ]) {
    try {
      await client.chat.completions.create({ ...base, messages: bad });
      ok(false, `accepted ${JSON.stringify(bad)}`);
    } catch (e) {
      ok(e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === param,
        `400 with param ${param}: ${e.status} ${e.param} ${e.message}`);
    }
  }
  console.log(`openai npm tool tests: ${checks} checks passed`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
