// End-to-end checks of `sota serve` with the official OpenAI Node SDK (the
// `openai` package pinned in package.json / package-lock.json).
//
//   node scripts/e2e/node/sdk.mjs [--base-url http://127.0.0.1:8080/v1] [--model stories260k]
//
// The base URL may also come from $SOTA_BASE_URL. Every check runs; failures
// are printed with what was expected and what came back; the exit status is 1
// if any check failed (2 if the server cannot be reached). The last line is
// "N passed, N failed".

import { isDeepStrictEqual, inspect } from 'node:util';
import OpenAI from 'openai';
import { VERSION } from 'openai/version';

function arg(name, env, dflt) {
  const i = process.argv.indexOf(name);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  return process.env[env] || dflt;
}

const baseURL = arg('--base-url', 'SOTA_BASE_URL', 'http://127.0.0.1:8080/v1').replace(/\/+$/, '');
const model = arg('--model', 'SOTA_MODEL_ID', 'stories260k');
const PROMPT = 'Once upon a time';
// The demo model's token ids for "Once upon a time" (BOS first), as printed by
// `echo '"Once upon a time"' | bin/sota tokenize`.
const ONCE_IDS = [1, 403, 407, 261, 378];

// No retries: a retried error would hide what the server answered.
const client = new OpenAI({ baseURL, apiKey: 'sk-e2e-unused', maxRetries: 0, timeout: 120_000 });

class CheckError extends Error {}

function expect(cond, what, got, want) {
  if (cond) return;
  let msg = what;
  if (got !== undefined || want !== undefined) {
    msg += `\n      want: ${inspect(want, { depth: 5 })}\n      got:  ${inspect(got, { depth: 5 })}`;
  }
  throw new CheckError(msg);
}

function expectEq(got, want, what) {
  expect(isDeepStrictEqual(got, want), what, got, want);
}

const chat = (body) =>
  client.chat.completions.create({ model, messages: [{ role: 'user', content: PROMPT }], ...body });
const complete = (body) => client.completions.create({ model, prompt: PROMPT, ...body });

async function collectChat(stream) {
  const texts = {}, finish = {}, usage = [], ids = new Set();
  let role;
  for await (const ch of stream) {
    ids.add(ch.id);
    expectEq(ch.object, 'chat.completion.chunk', 'chunk object');
    if (ch.usage) usage.push(ch);
    for (const c of ch.choices) {
      texts[c.index] = (texts[c.index] ?? '') + (c.delta?.content ?? '');
      if (c.delta?.role) role = c.delta.role;
      if (c.finish_reason) {
        expect(!(c.index in finish), `choice ${c.index} got a second finish_reason`);
        finish[c.index] = c.finish_reason;
      }
    }
  }
  return { texts, finish, usage, ids, role };
}

async function collectCompletion(stream) {
  const texts = {}, finish = {}, usage = [];
  for await (const ch of stream) {
    expectEq(ch.object, 'text_completion', 'completion chunk object');
    if (ch.usage) usage.push(ch);
    for (const c of ch.choices) {
      texts[c.index] = (texts[c.index] ?? '') + (c.text ?? '');
      if (c.finish_reason) finish[c.index] = c.finish_reason;
    }
  }
  return { texts, finish, usage };
}

async function expectError(Cls, fn, what, status, { param, code } = {}) {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof Cls)) {
      throw new CheckError(`${what}: raised ${e?.constructor?.name} (${e?.status}: ${e?.message}), want ${Cls.name}`);
    }
    expectEq(e.status, status, `${what}: status`);
    expect(e.error && typeof e.error.message === 'string' && e.error.message, `${what}: error.message`, e.error);
    if (param !== undefined) expectEq(e.param, param, `${what}: error param`);
    if (code !== undefined) expectEq(e.code, code, `${what}: error code`);
    expect(e.headers?.get('x-request-id'), `${what}: X-Request-Id on the error response`);
    return;
  }
  throw new CheckError(`${what}: no error raised, want ${Cls.name}`);
}

const checks = {
  async models() {
    const ids = [];
    for await (const m of client.models.list()) {
      expectEq(m.object, 'model', 'model.object');
      ids.push(m.id);
    }
    expect(ids.includes(model), `models.list contains ${model}`, ids);
    const m = await client.models.retrieve(model);
    expectEq(m.id, model, 'models.retrieve id');
    await expectError(OpenAI.NotFoundError, () => client.models.retrieve('no-such-model'), 'retrieve unknown', 404,
      { code: 'model_not_found' });
  },

  async chatNonStreamAndStream() {
    const body = { temperature: 0, max_tokens: 32, seed: 3 };
    const ref = await chat(body);
    expect(ref.id.startsWith('chatcmpl-'), 'chat id prefix', ref.id);
    expectEq(ref.object, 'chat.completion', 'chat object');
    expectEq(ref.choices.length, 1, 'one choice');
    const c = ref.choices[0];
    expectEq(c.message.role, 'assistant', 'message role');
    expect(c.message.content, 'content not empty', c.message.content);
    expect(['stop', 'length'].includes(c.finish_reason), 'finish_reason', c.finish_reason);
    expectEq(ref.usage.total_tokens, ref.usage.prompt_tokens + ref.usage.completion_tokens, 'usage total');
    const s = await collectChat(await chat({ ...body, stream: true, stream_options: { include_usage: true } }));
    expectEq(s.ids.size, 1, 'all chunks share one id');
    expectEq(s.role, 'assistant', 'stream role');
    expectEq(s.texts[0], c.message.content, 'stream text == non-stream text (greedy)');
    expectEq(s.finish[0], c.finish_reason, 'stream finish_reason == non-stream');
    expectEq(s.usage.length, 1, 'one usage chunk');
    expectEq(s.usage[0].choices, [], 'usage chunk has no choices');
    expectEq(s.usage[0].usage.completion_tokens, ref.usage.completion_tokens, 'stream usage == non-stream usage');
  },

  async chatSeedN2() {
    const body = { temperature: 1, seed: 21, max_tokens: 16, n: 2 };
    const a = await chat(body);
    const b = await chat(body);
    expectEq(a.choices.map((c) => c.index), [0, 1], 'n=2 indexes');
    expectEq(b.choices.map((c) => c.message.content), a.choices.map((c) => c.message.content),
      'n=2, same seed, temperature 1: same texts');
    const s = await collectChat(await chat({ ...body, stream: true }));
    expectEq([s.texts[0], s.texts[1]], a.choices.map((c) => c.message.content), 'n=2 seeded stream == non-stream');
  },

  async chatStopAndLength() {
    const ref = await chat({ temperature: 0, max_tokens: 40 });
    const text = ref.choices[0].message.content;
    const stop = text.split(' ')[3];
    expect(stop && stop.length >= 2, 'a word to stop at', text);
    const r = await chat({ temperature: 0, max_tokens: 40, stop: [stop] });
    expectEq(r.choices[0].message.content, text.slice(0, text.indexOf(stop)), `stop=${JSON.stringify(stop)}: text`);
    expectEq(r.choices[0].finish_reason, 'stop', 'stop: finish_reason');
    const l = await chat({ temperature: 0, max_completion_tokens: 5 });
    expectEq([l.choices[0].finish_reason, l.usage.completion_tokens], ['length', 5], 'max_completion_tokens=5');
  },

  async chatLogprobs() {
    const r = await chat({ temperature: 0, max_tokens: 8, logprobs: true, top_logprobs: 2 });
    const lp = r.choices[0].logprobs.content;
    expectEq(lp.length, r.usage.completion_tokens, 'one logprob per token');
    expectEq(lp.map((t) => t.token).join(''), r.choices[0].message.content, 'logprob tokens join to the content');
    for (const t of lp) {
      expectEq(t.top_logprobs.length, 2, 'top_logprobs=2 entries');
      expectEq(t.top_logprobs[0].token, t.token, 'greedy token is the top one');
    }
  },

  async completions() {
    const one = await complete({ temperature: 0, max_tokens: 16 });
    expectEq(one.object, 'text_completion', 'completion object');
    expectEq([one.choices[0].finish_reason, one.usage.completion_tokens], ['length', 16], 'max_tokens=16');
    const ids = await complete({ prompt: ONCE_IDS, temperature: 0, max_tokens: 16 });
    expectEq(ids.choices[0].text, one.choices[0].text, 'token-id prompt == string prompt');
    const two = await complete({ prompt: [PROMPT, 'Lily'], temperature: 0, max_tokens: 16 });
    expectEq(two.choices.map((c) => c.index), [0, 1], 'list of prompts: indexes');
    expectEq(two.choices[0].text, one.choices[0].text, 'list of prompts: first == single');
    const echo = await complete({ temperature: 0, max_tokens: 16, echo: true });
    expectEq(echo.choices[0].text, PROMPT + one.choices[0].text, 'echo');
    const s = await collectCompletion(await complete({
      prompt: [PROMPT, 'Lily'], temperature: 0, max_tokens: 16, stream: true, stream_options: { include_usage: true },
    }));
    expectEq(s.texts, { 0: two.choices[0].text, 1: two.choices[1].text }, 'stream texts == non-stream');
    expectEq(s.finish, { 0: 'length', 1: 'length' }, 'stream finish reasons');
    expectEq(s.usage.length, 1, 'one usage chunk');
    expectEq(s.usage[0].usage.completion_tokens, 32, 'stream usage completion_tokens');
  },

  async extensions() {
    const greedy = await chat({ temperature: 0, max_tokens: 24 });
    // Extension fields go through unchanged in the body (the SDK passes unknown keys on).
    const r = await chat({ temperature: 1, seed: 4, max_tokens: 24, top_k: 1 });
    expectEq(r.choices[0].message.content, greedy.choices[0].message.content, 'top_k=1 at temperature 1 == greedy');
  },

  async errors() {
    await expectError(OpenAI.NotFoundError, () => chat({ model: 'no-such-model' }), 'unknown model', 404,
      { param: 'model', code: 'model_not_found' });
    await expectError(OpenAI.BadRequestError, () => chat({ temperature: 3 }), 'temperature 3', 400,
      { param: 'temperature' });
    await expectError(OpenAI.BadRequestError, () => chat({ n: 0, stream: true }), 'n 0, stream', 400, { param: 'n' });
    await expectError(OpenAI.BadRequestError, () => complete({ prompt: 'Once upon a time '.repeat(400) }),
      'prompt too long', 400, { code: 'context_length_exceeded' });
  },

  async requestId() {
    const { data, response } = await client.chat.completions
      .create({ model, messages: [{ role: 'user', content: PROMPT }], max_tokens: 4 },
        { headers: { 'X-Request-Id': 'e2e-node-123' } })
      .withResponse();
    expectEq(response.headers.get('x-request-id'), 'e2e-node-123', 'X-Request-Id echoed');
    expect(data.choices[0].message.content, 'response parses');
  },

  async concurrentStreams() {
    const want = (await complete({ temperature: 0, max_tokens: 16 })).choices[0].text;
    const got = await Promise.all(Array.from({ length: 6 }, async () =>
      (await collectCompletion(await complete({ temperature: 0, max_tokens: 16, stream: true }))).texts[0]));
    expectEq(got, Array(6).fill(want), '6 concurrent greedy streams == single request');
  },
};

async function main() {
  console.log(`node_sdk: openai ${VERSION} (node ${process.version}) against ${baseURL} (model ${model})`);
  try {
    await client.models.list();
  } catch (e) {
    if (e instanceof OpenAI.APIConnectionError) {
      console.error(`FAIL: cannot reach the server at ${baseURL}: ${e.message}`);
      return 2;
    }
  }
  let passed = 0, failed = 0;
  for (const [name, fn] of Object.entries(checks)) {
    try {
      await fn();
      passed++;
      console.log(`ok   ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e instanceof CheckError ? e.message : (e?.stack ?? e)}`);
    }
  }
  console.log(`node_sdk: ${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

process.exitCode = await main();
