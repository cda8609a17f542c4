/**
 * Streaming benchmark: through the dev server (real handlers, fake model at its default
 * pace: first token after ~300 ms, then ~30 tokens/s), how soon does a WebSocket client
 * see the first token, against the fake model's own first-token delay, and against the
 * time to the whole answer over POST /chat, in the same run. Prints figures, asserts nothing.
 *
 *   npm run bench:stream [-- --answers 20 --long 30 --model tiiuae/Falcon3-7B-Instruct]
 *
 * Phases, one after another (each answer alone, after two warm-up answers per phase):
 *   model     the fake model's own stream, read directly (no handler, no boto3)
 *   ws        one open WebSocket, as the page keeps it: chat frame → first token / done
 *   ws-new    a new WebSocket per answer (handshake and $connect included), closed at the first token
 *   post      POST /chat: request → the whole answer. The fake paces InvokeEndpoint like its stream
 *             (first-token delay + tokens / rate), as a real model would take; should it ever answer
 *             faster than its first-token delay, the phase is run again with [[slow:MS]], MS being
 *             the time the paced stream took to generate the same answer.
 */
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { startDevServer, type DevServer } from "../dev/server";
import { DEFAULT_DEPLOYED_MODEL_ID, MODELS } from "../stacks/model/catalogue";

const { values } = parseArgs({
  options: {
    answers: { type: "string", default: "20" },
    long: { type: "string", default: "30" },
    "first-token-ms": { type: "string", default: "300" },
    "tokens-per-second": { type: "string", default: "30" },
    model: { type: "string", default: DEFAULT_DEPLOYED_MODEL_ID },
  },
});
const MODEL = MODELS[values.model!];
if (MODEL === undefined) throw new Error(`--model must be one of ${Object.keys(MODELS).join(", ")}`);
const ANSWERS = Number(values.answers);
const FIRST_TOKEN_MS = Number(values["first-token-ms"]);
const TOKENS_PER_SECOND = Number(values["tokens-per-second"]);
const PROMPT = `Tell me about peregrine falcons [[long:${Number(values.long)}]]`;
const WARM_UP = 2;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function repeat<T>(n: number, run: () => Promise<T>): Promise<T[]> {
  for (let i = 0; i < WARM_UP; i++) await run();
  const results: T[] = [];
  for (let i = 0; i < n; i++) results.push(await run());
  return results;
}

/** The event-stream messages' payloads in `buffer` (botocore/eventstream.py framing); returns the rest. */
function payloads(buffer: Buffer): { parts: Buffer[]; rest: Buffer } {
  const parts: Buffer[] = [];
  let offset = 0;
  while (buffer.length - offset >= 12) {
    const total = buffer.readUInt32BE(offset);
    const headers = buffer.readUInt32BE(offset + 4);
    if (buffer.length - offset < total) break;
    parts.push(buffer.subarray(offset + 12 + headers, offset + total - 4));
    offset += total;
  }
  return { parts, rest: buffer.subarray(offset) };
}

/** The body the functions send for the model's payload style (lambda-chat/payloads/). */
function streamBody(): string {
  if (MODEL.payloadStyle === "messages") {
    return JSON.stringify({ messages: [{ role: "user", content: PROMPT }], max_tokens: 512, temperature: 0, stream: true, stream_options: { include_usage: true } });
  }
  return JSON.stringify({ inputs: PROMPT, parameters: { max_new_tokens: 512 }, stream: true });
}
// The first event with answer text: a generate token event, or a chat chunk with delta content.
const FIRST_TOKEN = MODEL.payloadStyle === "messages" ? /data:\s*\{"object":"chat\.completion\.chunk".*?"content":"[^"]/ : /data:\s*\{"index"/;

/** The fake model's own stream: time to the first token event, and to the end. */
async function modelDirect(modelUrl: string) {
  const started = performance.now();
  const res = await fetch(`${modelUrl}/endpoints/bench/invocations-response-stream`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: streamBody(),
  });
  let pending: Buffer = Buffer.alloc(0);
  let text = "";
  let first = NaN;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const { parts, rest } = payloads(Buffer.concat([pending, chunk]));
    pending = rest;
    text += parts.map((p) => p.toString("utf8")).join("");
    if (Number.isNaN(first) && FIRST_TOKEN.test(text)) first = performance.now() - started;
  }
  return { first, total: performance.now() - started };
}

function socket(dev: DevServer): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${dev.url.replace(/^http/, "ws")}stream`, { origin: new URL(dev.url).origin });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

let nextId = 0;
/** One answer on `ws`: ms from sending the chat frame to the first token and to done. */
function answer(ws: WebSocket, stopAtFirst = false, started = performance.now()) {
  const id = `b${++nextId}`;
  return new Promise<{ first: number; total: number; done?: Record<string, number> }>((resolve, reject) => {
    let first = NaN;
    const onMessage = (data: WebSocket.RawData) => {
      const frame = JSON.parse(data.toString());
      if (frame.id !== id) return;
      if (frame.type === "token" && Number.isNaN(first)) {
        first = performance.now() - started;
        if (stopAtFirst) {
          ws.off("message", onMessage);
          resolve({ first, total: NaN });
        }
      } else if (frame.type === "done") {
        ws.off("message", onMessage);
        resolve({ first, total: performance.now() - started, done: frame });
      } else if (frame.type === "error") {
        ws.off("message", onMessage);
        reject(new Error(`error frame: ${frame.status} ${frame.message}`));
      }
    };
    ws.on("message", onMessage);
    ws.send(JSON.stringify({ action: "chat", id, text: PROMPT, history: [] }));
  });
}

async function post(dev: DevServer, text: string) {
  const started = performance.now();
  const res = await fetch(new URL("chat", dev.url), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ text, history: [] }),
  });
  const body = (await res.json()) as { msg?: string; message?: string };
  if (res.status !== 200) throw new Error(`POST /chat ${res.status}: ${body.message}`);
  return { total: performance.now() - started, msg: body.msg as string };
}

function row(name: string, xs: number[]) {
  const f = (x: number) => x.toFixed(0).padStart(6);
  console.log(`${name.padEnd(46)} ${f(median(xs))} ${f(pct(xs, 0.9))} ${f(Math.min(...xs))} ${f(Math.max(...xs))}`);
}

async function main() {
  const dev = await startDevServer({
    port: 0,
    log: () => undefined,
    model: MODEL.id,
    auth: false, // streaming itself; bench/signin.ts measures what sign-in adds
    fakeArgs: ["--first-token-ms", String(FIRST_TOKEN_MS), "--tokens-per-second", String(TOKENS_PER_SECOND)],
  });
  try {
    const model = await repeat(ANSWERS, () => modelDirect(dev.modelUrl!));
    const ws = await socket(dev);
    const open = await repeat(ANSWERS, () => answer(ws));
    ws.close();
    const fresh = await repeat(ANSWERS, async () => {
      const started = performance.now();
      const s = await socket(dev);
      const result = await answer(s, true, started);
      s.close();
      return result;
    });
    let posts = await repeat(ANSWERS, () => post(dev, PROMPT));
    let emulated = "";
    if (median(posts.map((p) => p.total)) < FIRST_TOKEN_MS) {
      const tokens = median(open.map((a) => a.done?.generated_tokens ?? NaN));
      const generation = Math.round(FIRST_TOKEN_MS + ((tokens - 1) * 1000) / TOKENS_PER_SECOND);
      emulated = `POST /chat answered in ${median(posts.map((p) => p.total)).toFixed(0)} ms without pacing; rerun with [[slow:${generation}]] (${tokens} tokens at the stream's pace)`;
      posts = await repeat(ANSWERS, () => post(dev, `${PROMPT} [[slow:${generation}]]`));
    }

    const tokens = open.map((a) => a.done?.generated_tokens ?? NaN);
    console.log(`\nstreaming benchmark (${MODEL.id}, ${MODEL.payloadStyle} payload): ${ANSWERS} answers per phase (after ${WARM_UP} warm-up), fake model first token ${FIRST_TOKEN_MS} ms, ${TOKENS_PER_SECOND} tokens/s, ~${median(tokens)} tokens per answer`);
    console.log(`${"ms".padEnd(46)} ${"median".padStart(6)} ${"p90".padStart(6)} ${"min".padStart(6)} ${"max".padStart(6)}`);
    row("model: its own first token (direct)", model.map((m) => m.first));
    row("model: its own whole stream (direct)", model.map((m) => m.total));
    row("ws, open socket: first token", open.map((a) => a.first));
    row("ws, open socket: done (whole answer)", open.map((a) => a.total));
    row("ws, open socket: done.first_token_ms (handler)", open.map((a) => a.done?.first_token_ms ?? NaN));
    row("ws, new socket incl. handshake: first token", fresh.map((a) => a.first));
    row("POST /chat: whole answer", posts.map((p) => p.total));
    if (emulated) console.log(`note: ${emulated}`);
    const added = median(open.map((a) => a.first)) - median(model.map((m) => m.first));
    const addedFresh = median(fresh.map((a) => a.first)) - median(model.map((m) => m.first));
    console.log(
      `\nfirst token over the WebSocket adds ${added.toFixed(0)} ms to the model's own (target <= 20 ms, warm); ` +
        `${addedFresh.toFixed(0)} ms with a new socket; ` +
        `the first token comes ${(median(posts.map((p) => p.total)) / median(open.map((a) => a.first))).toFixed(1)}x sooner than POST /chat's whole answer ` +
        `(${median(open.map((a) => a.first)).toFixed(0)} vs ${median(posts.map((p) => p.total)).toFixed(0)} ms)`,
    );
  } finally {
    await dev.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
