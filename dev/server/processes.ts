/**
 * The dev server's child processes: the fake model, and warm Python workers that run
 * a Lambda handler (dev/lambda_worker.py), alone or as a pool that grows on demand
 * like Lambda's concurrency.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";

export const ROOT = path.resolve(__dirname, "..", "..");

export type Log = (line: string) => void;

/** A start-up problem worth one line to the user (no stack trace). */
export class StartupError extends Error {}

function pythonMissing(python: string, error: NodeJS.ErrnoException): Error {
  return error.code === "ENOENT"
    ? new StartupError(`${python} not found on PATH; the dev server runs the Lambda with it (Python 3.11+ with boto3)`)
    : error;
}

/** Forwards a stream's lines to the log with a prefix. */
function pipeLines(stream: NodeJS.ReadableStream | null, prefix: string, log: Log) {
  if (stream) createInterface({ input: stream }).on("line", (line) => log(`${prefix} ${line}`));
}

/**
 * Signals a child's whole process group. `python3` may be a wrapper script (a pyenv
 * shim) that would die alone and leave the real interpreter running.
 */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    child.kill(signal);
  }
}

export function stopChild(child: ChildProcess | undefined, graceMs = 3000): Promise<void> {
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
export function startFakeModel(python: string, args: string[], log: Log) {
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

export interface WorkerReply {
  ok: boolean;
  result?: unknown;
  errorMessage?: string;
  errorType?: string;
  requestId?: string;
}

export interface WorkerSpec {
  python: string;
  /** Arguments of dev/lambda_worker.py (--handler, --function-name, ...). */
  args: string[];
  env: NodeJS.ProcessEnv;
  log: Log;
  /** Prefix of its log lines, e.g. "[lambda]". */
  prefix: string;
}

/** One warm python3 process running the handler; requests queue on its stdin. */
export class LambdaWorker {
  private readonly waiting = new Map<number, (reply: WorkerReply) => void>();
  private nextId = 1;
  private constructor(readonly child: ChildProcess) {}

  static start(spec: WorkerSpec): Promise<LambdaWorker> {
    const { python, args, env, log, prefix } = spec;
    const child = spawn(python, [path.join(ROOT, "dev", "lambda_worker.py"), ...args], {
      cwd: ROOT,
      env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true, // its own process group, so stopChild reaches the real interpreter
    });
    const worker = new LambdaWorker(child);
    pipeLines(child.stderr, prefix, log);
    child.stdin!.on("error", () => {}); // a dead worker shows up as its "exit" below
    return new Promise<LambdaWorker>((resolve, reject) => {
      child.once("error", (error) => reject(pythonMissing(python, error)));
      child.once("exit", (code, signal) => {
        reject(new StartupError(`dev/lambda_worker.py exited (code ${code}) before it was ready`));
        // Whatever was still queued fails the way a crashed runtime does.
        const why = signal === "SIGKILL" && worker.killedFor ? worker.killedFor : `Runtime exited (code ${code})`;
        for (const answer of worker.waiting.values()) answer({ ok: false, errorMessage: why });
        worker.waiting.clear();
      });
      createInterface({ input: child.stdout! }).on("line", (line) => {
        let message: { id?: number; ready?: boolean; fatal?: string } & WorkerReply;
        try {
          message = JSON.parse(line);
        } catch {
          log(`${prefix} ${line}`);
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

  /** Why the worker was killed (a Lambda timeout), reported to what was waiting on it. */
  private killedFor?: string;

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  invoke(event: unknown): Promise<WorkerReply> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.child.stdin!.write(`${JSON.stringify({ id, event })}\n`);
    });
  }

  /** Ends the process at once, as Lambda does when an invocation runs out of time. */
  kill(reason: string): void {
    this.killedFor = reason;
    signalGroup(this.child, "SIGKILL");
  }

  close(): Promise<void> {
    return stopChild(this.child);
  }
}

/** One warm worker, replaced on the next request after it died (like a cold start). */
export class SingleWorker {
  private worker?: LambdaWorker;
  private starting?: Promise<LambdaWorker>;
  private closed = false;
  constructor(private readonly spec: WorkerSpec) {}

  async start(): Promise<void> {
    await this.live();
  }

  async live(): Promise<LambdaWorker> {
    if (this.worker?.alive) return this.worker;
    this.starting ??= LambdaWorker.start(this.spec).finally(() => (this.starting = undefined));
    this.worker = await this.starting;
    return this.worker;
  }

  async invoke(event: unknown): Promise<WorkerReply> {
    // After close() nothing may start a new worker: a stream job killed while the server
    // stops still reports its failure to the failure notice, whose fresh worker would
    // then outlive the server (and keep jest from exiting).
    if (this.closed) return { ok: false, errorType: "Closed", errorMessage: "the dev server is stopping" };
    return (await this.live()).invoke(event);
  }

  /** For the exit hook: kill without waiting. */
  kill(): void {
    if (this.worker) signalGroup(this.worker.child, "SIGKILL");
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.starting ? await this.starting.catch(() => undefined) : this.worker;
    await worker?.close();
  }
}

/**
 * Warm workers that each run one invocation at a time, like Lambda execution
 * environments: an idle one takes the next event, a new one starts when all are
 * busy (up to `max`; beyond that events wait), and an invocation that runs past
 * `timeoutMs` kills its worker, as Lambda does.
 */
export class WorkerPool {
  private readonly idle: LambdaWorker[] = [];
  private readonly all = new Set<LambdaWorker>();
  private starting = 0;
  private readonly queue: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly spec: WorkerSpec,
    private readonly max: number,
    private readonly timeoutMs: number,
  ) {}

  /** Starts `count` workers ahead of the first event (warm, as after earlier invocations). */
  async prewarm(count: number): Promise<void> {
    const started = await Promise.all(Array.from({ length: Math.min(count, this.max) }, () => this.grow()));
    for (const worker of started) this.release(worker);
  }

  /** Workers alive now (busy or idle). */
  get size(): number {
    return this.all.size;
  }

  async invoke(event: unknown): Promise<WorkerReply> {
    return this.run(await this.acquire(), event);
  }

  /**
   * An asynchronous invocation as Lambda queues it: when no worker is free within
   * `maxEventAgeMs` (all busy: the concurrency is used up), it is dropped with
   * "EventAgeExceeded" instead (maximum_event_age_in_seconds).
   */
  async invokeQueued(event: unknown, maxEventAgeMs: number): Promise<WorkerReply | "EventAgeExceeded"> {
    const acquired = this.acquire();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"expired">((resolve) => (timer = setTimeout(() => resolve("expired"), maxEventAgeMs)));
    const first = await Promise.race([acquired, expired]);
    clearTimeout(timer);
    if (first === "expired") {
      acquired.then((worker) => this.release(worker), () => undefined); // the slot it would have had
      return "EventAgeExceeded";
    }
    return this.run(first, event);
  }

  private async run(worker: LambdaWorker, event: unknown): Promise<WorkerReply> {
    const seconds = Math.round(this.timeoutMs / 10) / 100;
    const timer = setTimeout(() => worker.kill(`Task timed out after ${seconds.toFixed(2)} seconds`), this.timeoutMs);
    try {
      return await worker.invoke(event);
    } finally {
      clearTimeout(timer);
      this.release(worker);
    }
  }

  private async acquire(): Promise<LambdaWorker> {
    for (;;) {
      if (this.closed) throw new Error("the worker pool is closed");
      const worker = this.idle.pop();
      if (worker?.alive) return worker;
      if (worker) continue; // died while idle: forget it (release below never re-adds the dead)
      if (this.all.size + this.starting < this.max) return this.grow();
      await new Promise<void>((resolve) => this.queue.push(resolve));
    }
  }

  private async grow(): Promise<LambdaWorker> {
    this.starting++;
    try {
      const worker = await LambdaWorker.start(this.spec);
      this.all.add(worker);
      worker.child.once("exit", () => {
        this.all.delete(worker);
        this.queue.shift()?.(); // someone waiting may start a new one now
      });
      return worker;
    } finally {
      this.starting--;
    }
  }

  private release(worker: LambdaWorker): void {
    if (worker.alive && !this.closed) this.idle.push(worker);
    this.queue.shift()?.();
  }

  kill(): void {
    for (const worker of this.all) signalGroup(worker.child, "SIGKILL");
  }

  close(): Promise<void> {
    this.closed = true;
    for (const wake of this.queue.splice(0)) wake();
    return Promise.all([...this.all].map((w) => w.close())).then(() => undefined);
  }
}
