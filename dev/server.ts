/**
 * Local stand-in for the deployed chatbot: serves site/ the way CloudFront + S3 do
 * and answers POST /chat the way API Gateway + the Lambda do, running the real
 * Python handler (lambda-chat/lambda_function.py) in one warm worker process.
 *
 *   npm run dev -- [--port 8080] [--delay-ms 0] [-- <extra fake_sagemaker.py args>]
 *   npm run dev -- --sagemaker --endpoint NAME --region R   (real endpoint, your AWS credentials)
 *
 * The error mapping is read from contract/chat-errors.json, the same data the
 * stack's API Gateway integration responses are built from.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import chatErrors from "../contract/chat-errors.json";

const ROOT = path.resolve(__dirname, "..");
const HOST = "127.0.0.1";
const DEFAULT_ENDPOINT = "jumpstart-dft-hf-llm-falcon-7b-instruct-bf16";
const DEFAULT_REGION = "ap-northeast-2";

export interface DevServerOptions {
  /** Port on 127.0.0.1; 0 picks a free one. @default 8080 */
  port?: number;
  /** Use a real SageMaker endpoint with the caller's AWS credentials instead of the fake model. */
  sagemaker?: boolean;
  /** Endpoint name given to the handler (env `endpoint`). */
  endpoint?: string;
  /** AWS region for the handler. @default $AWS_REGION, else ap-northeast-2 */
  region?: string;
  /** Fake model: milliseconds before each answer. @default 0 */
  delayMs?: number;
  /** Fake model: further arguments for dev/fake_sagemaker.py. */
  fakeArgs?: string[];
  /** Extra environment for the handler, e.g. { MODEL_READ_TIMEOUT_SECONDS: "1" }. */
  lambdaEnv?: Record<string, string>;
  /** API Gateway's integration timeout: answer 504 after this long. @default 29000 */
  integrationTimeoutMs?: number;
  /** Larger /chat bodies get 400 Invalid request body. @default 65536 */
  maxBodyBytes?: number;
  /** Directory served as the site. @default site/ */
  siteDir?: string;
  /** Handler as path/to/module.function, relative to the repo root. @default lambda-chat/lambda_function.lambda_handler */
  handler?: string;
  /** Python interpreter. @default python3 */
  python?: string;
  /** Receives the server's and the child processes' log lines. @default stderr */
  log?: (line: string) => void;
}

export interface DevServer {
  /** Base URL, ending in "/". */
  url: string;
  /** The fake model's URL, when one was started. */
  modelUrl?: string;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- error mapping

const ERROR_RULES = chatErrors.errors.map((rule) => ({
  statusCode: rule.statusCode,
  // API Gateway matches selectionPattern against the whole errorMessage.
  pattern: new RegExp(`^(?:${rule.selectionPattern})$`),
}));

/** How API Gateway answers a Lambda error, per contract/chat-errors.json. */
export function mapLambdaError(errorMessage: string): { statusCode: number; message: string } {
  const rule = ERROR_RULES.find((r) => r.pattern.test(errorMessage));
  // No rule matches only an empty message; the contract's catch-all status is 500.
  const statusCode = rule?.statusCode ?? 500;
  const prefix = `[${statusCode}]`;
  const message =
    rule && errorMessage.startsWith(prefix) ? errorMessage.slice(prefix.length).trim() : chatErrors.fallbackMessage;
  return { statusCode, message };
}

// ---------------------------------------------------------------- child processes

class StartupError extends Error {}

function pythonMissing(python: string, error: NodeJS.ErrnoException): Error {
  return error.code === "ENOENT"
    ? new StartupError(`${python} not found on PATH; the dev server runs the Lambda with it (Python 3.11+ with boto3)`)
    : error;
}

/** Forwards a stream's lines to the log with a prefix. */
function pipeLines(stream: NodeJS.ReadableStream | null, prefix: string, log: (line: string) => void) {
  if (stream) createInterface({ input: stream }).on("line", (line) => log(`${prefix} ${line}`));
}

/**
 * Signals a child's whole process group. `python3` may be a wrapper script (a pyenv
 * shim) that would die alone and leave the real interpreter running.
 */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    child.kill(signal);
  }
}

function stopChild(child: ChildProcess | undefined, graceMs = 3000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => signalGroup(child, "SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.stdin?.end();
    signalGroup(child, "SIGTERM");
  });
}

/** Starts dev/fake_sagemaker.py and resolves with the URL it prints. */
function startFakeModel(python: string, args: string[], log: (line: string) => void) {
  const script = path.join(ROOT, "dev", "fake_sagemaker.py");
  if (!existsSync(script)) {
    throw new StartupError("dev/fake_sagemaker.py is missing; use --sagemaker for a real endpoint");
  }
  const child = spawn(python, [script, "--port", "0", ...args], {
    cwd: ROOT,
    env: { ...process.env, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, so stopChild reaches the real interpreter
  });
  pipeLines(child.stderr, "[model]", log);
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StartupError("fake model did not print its URL within 15 s")), 15000);
    const done = (fn: () => void) => {
      clearTimeout(timer);
      fn();
    };
    child.once("error", (error) => done(() => reject(pythonMissing(python, error))));
    child.once("exit", (code) =>
      done(() => reject(new StartupError(`dev/fake_sagemaker.py exited (code ${code}) before it was ready`))),
    );
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const found = /listening on (http:\/\/\S+)/.exec(line);
      if (found) done(() => resolve(found[1].replace(/\/$/, "")));
      else log(`[model] ${line}`);
    });
  });
  return { child, ready };
}

interface WorkerReply {
  ok: boolean;
  result?: unknown;
  errorMessage?: string;
  requestId?: string;
}

/** One warm python3 process running the handler; requests queue on its stdin. */
class LambdaWorker {
  private readonly waiting = new Map<number, (reply: WorkerReply) => void>();
  private nextId = 1;
  private constructor(readonly child: ChildProcess) {}

  static start(python: string, args: string[], env: NodeJS.ProcessEnv, log: (line: string) => void) {
    const child = spawn(python, [path.join(ROOT, "dev", "lambda_worker.py"), ...args], {
      cwd: ROOT,
      env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true, // its own process group, so stopChild reaches the real interpreter
    });
    const worker = new LambdaWorker(child);
    pipeLines(child.stderr, "[lambda]", log);
    child.stdin!.on("error", () => {}); // a dead worker shows up as its "exit" below
    return new Promise<LambdaWorker>((resolve, reject) => {
      child.once("error", (error) => reject(pythonMissing(python, error)));
      child.once("exit", (code) => {
        reject(new StartupError(`dev/lambda_worker.py exited (code ${code}) before it was ready`));
        // Whatever was still queued fails the way a crashed runtime does.
        for (const answer of worker.waiting.values()) answer({ ok: false, errorMessage: `Runtime exited (code ${code})` });
        worker.waiting.clear();
      });
      createInterface({ input: child.stdout! }).on("line", (line) => {
        let message: { id?: number; ready?: boolean; fatal?: string } & WorkerReply;
        try {
          message = JSON.parse(line);
        } catch {
          log(`[lambda] ${line}`);
          return;
        }
        if (message.fatal) reject(new StartupError(message.fatal));
        else if (message.ready) resolve(worker);
        else if (typeof message.id === "number") {
          worker.waiting.get(message.id)?.(message);
          worker.waiting.delete(message.id);
        }
      });
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  invoke(event: unknown): Promise<WorkerReply> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin!.write(`${JSON.stringify({ id, event })}\n`);
    });
  }

  close(): Promise<void> {
    return stopChild(this.child);
  }
}

// ---------------------------------------------------------------- HTTP

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".txt": "text/plain; charset=utf-8",
};

// What CloudFront's managed SecurityHeadersPolicy adds (HSTS aside: this is plain http).
const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "SAMEORIGIN",
  "Referrer-Policy": "strict-origin-when-cross-origin",
  "X-XSS-Protection": "1; mode=block",
};

function send(res: http.ServerResponse, status: number, body: string | Buffer, type: string, extra = {}) {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-cache",
    ...extra,
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, extra = {}) {
  send(res, status, JSON.stringify(body), "application/json", extra);
}

/** Reads a body up to maxBytes; null when it was larger (the rest is drained). */
function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.on("end", () => resolve(size <= maxBytes ? Buffer.concat(chunks) : null));
    req.on("error", reject);
  });
}

async function serveStatic(req: http.IncomingMessage, res: http.ServerResponse, siteDir: string, pathname: string) {
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(res, 405, "Method Not Allowed\n", "text/plain; charset=utf-8", { Allow: "GET, HEAD" });
    return;
  }
  let relative: string;
  try {
    relative = decodeURIComponent(pathname === "/" ? "/chat.html" : pathname);
  } catch {
    send(res, 400, "Bad Request\n", "text/plain; charset=utf-8");
    return;
  }
  const file = path.join(siteDir, path.posix.normalize(relative));
  const inside = file.startsWith(siteDir + path.sep) && !relative.includes("\0");
  if (inside && !path.basename(file).startsWith(".")) {
    try {
      if ((await stat(file)).isFile()) {
        const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
        send(res, 200, await readFile(file), type);
        return;
      }
    } catch {
      // fall through to 404
    }
  }
  send(res, 404, "Not Found\n", "text/plain; charset=utf-8");
}

// ---------------------------------------------------------------- server

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const python = options.python ?? "python3";
  const siteDir = path.resolve(options.siteDir ?? path.join(ROOT, "site"));
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  const integrationTimeoutMs = options.integrationTimeoutMs ?? 29_000;
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? DEFAULT_REGION;

  const workerArgs = ["--handler", options.handler ?? "lambda-chat/lambda_function.lambda_handler"];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    endpoint: options.endpoint ?? DEFAULT_ENDPOINT,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_LAMBDA_FUNCTION_NAME: "lambda-chat-api",
    PYTHONUNBUFFERED: "1",
    PYTHONDONTWRITEBYTECODE: "1",
  };
  delete env.AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME;

  let fake: ReturnType<typeof startFakeModel> | undefined;
  let modelUrl: string | undefined;
  let worker: LambdaWorker | undefined;
  const stopChildren = () => {
    process.off("exit", killChildren);
    return Promise.all([worker?.close(), stopChild(fake?.child)]).then(() => undefined);
  };
  // Should this process end without close() (an uncaught error), take the children along.
  const killChildren = () => {
    if (worker) signalGroup(worker.child, "SIGKILL");
    if (fake) signalGroup(fake.child, "SIGKILL");
  };
  process.on("exit", killChildren);
  try {
    if (!options.sagemaker) {
      fake = startFakeModel(python, ["--delay-ms", String(options.delayMs ?? 0), ...(options.fakeArgs ?? [])], log);
      modelUrl = await fake.ready;
      Object.assign(env, {
        AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: modelUrl,
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
        AWS_EC2_METADATA_DISABLED: "true",
      });
      delete env.AWS_SESSION_TOKEN;
      delete env.AWS_PROFILE;
    }
    Object.assign(env, options.lambdaEnv);
    worker = await LambdaWorker.start(python, workerArgs, env, log);
  } catch (error) {
    await stopChildren();
    throw error;
  }

  // A crashed runtime is replaced on the next request, like a cold start.
  let restarting: Promise<LambdaWorker> | undefined;
  const liveWorker = async (): Promise<LambdaWorker> => {
    if (worker?.alive) return worker;
    restarting ??= LambdaWorker.start(python, workerArgs, env, log).finally(() => (restarting = undefined));
    worker = await restarting;
    return worker;
  };

  async function chat(req: http.IncomingMessage, res: http.ServerResponse) {
    const raw = await readBody(req, maxBodyBytes);
    let event: unknown;
    try {
      event = raw === null ? undefined : JSON.parse(raw.toString("utf8"));
    } catch {
      event = undefined;
    }
    // The request model requires a JSON object; the Lambda checks the fields itself.
    if (event === null || typeof event !== "object" || Array.isArray(event)) {
      sendJson(res, 400, { message: "Invalid request body" });
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), integrationTimeoutMs);
    });
    const reply = await Promise.race([liveWorker().then((w) => w.invoke(event)), timedOut]);
    clearTimeout(timer);
    if (reply === "timeout") {
      log(`[dev] integration timeout after ${integrationTimeoutMs} ms (the handler keeps running)`);
      sendJson(res, 504, { message: "Endpoint request timed out" });
      return;
    }
    const requestId = { "x-amzn-RequestId": reply.requestId ?? "" };
    if (reply.ok) {
      sendJson(res, 200, reply.result ?? null, requestId);
    } else {
      const { statusCode, message } = mapLambdaError(reply.errorMessage ?? "");
      sendJson(res, statusCode, { message }, requestId);
    }
  }

  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url ?? "/", "http://localhost");
    const handled =
      pathname === "/chat" && req.method === "POST"
        ? chat(req, res)
        : pathname === "/chat" || pathname.startsWith("/chat/")
          ? // API Gateway's answer for a method or resource it does not have.
            Promise.resolve(sendJson(res, 403, { message: "Missing Authentication Token" }))
          : serveStatic(req, res, siteDir, pathname);
    handled.catch((error: Error) => {
      log(`[dev] ${req.method} ${pathname}: ${error.stack ?? error}`);
      if (!res.headersSent) sendJson(res, 500, { message: chatErrors.fallbackMessage });
      else res.destroy();
    });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 8080, HOST, resolve);
    });
  } catch (error) {
    await stopChildren();
    throw error;
  }
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${HOST}:${port}/`,
    modelUrl,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await Promise.all([stopped, stopChildren()]);
      })();
      return closing;
    },
  };
}

// ---------------------------------------------------------------- command line

const USAGE = `Usage: npm run dev -- [options] [-- <extra dev/fake_sagemaker.py arguments>]

  --port N          port on 127.0.0.1 (default 8080; 0 picks a free one)
  --delay-ms N      fake model: wait N ms before each answer (default 0)
  --sagemaker       use a real SageMaker endpoint and your AWS credentials
  --endpoint NAME   endpoint name (default ${DEFAULT_ENDPOINT})
  --region R        AWS region (default $AWS_REGION or ${DEFAULT_REGION})
  -h, --help        this text`;

async function main(argv: string[]) {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        port: { type: "string", default: "8080" },
        "delay-ms": { type: "string", default: "0" },
        sagemaker: { type: "boolean", default: false },
        endpoint: { type: "string" },
        region: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const port = Number(values.port);
  const delayMs = Number(values["delay-ms"]);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || !(delayMs >= 0)) {
    console.error(`--port must be 0..65535 and --delay-ms a non-negative number\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.sagemaker && positionals.length) {
    console.error("extra fake model arguments make no sense with --sagemaker");
    process.exit(2);
  }

  let dev: DevServer;
  try {
    dev = await startDevServer({
      port,
      delayMs,
      fakeArgs: positionals,
      sagemaker: values.sagemaker,
      endpoint: values.endpoint,
      region: values.region,
    });
  } catch (error) {
    console.error(`dev server: ${error instanceof StartupError ? error.message : (error as Error).stack}`);
    process.exit(1);
  }
  const model = values.sagemaker
    ? `SageMaker endpoint ${values.endpoint ?? DEFAULT_ENDPOINT} in ${values.region ?? process.env.AWS_REGION ?? DEFAULT_REGION}`
    : `fake model at ${dev.modelUrl} (delay ${delayMs} ms)`;
  console.log(`Falcon chat dev server: ${dev.url}  (${model}; Ctrl-C stops)`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(130); // a second Ctrl-C: do not wait
    stopping = true;
    console.error(`\n${signal}: stopping`);
    void dev.close().then(() => process.exit(0));
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

if (require.main === module) void main(process.argv.slice(2));
