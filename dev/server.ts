/**
 * Local stand-in for the deployed chatbot: serves site/ the way CloudFront + S3 do,
 * answers POST /chat the way API Gateway's REST API + the chat Lambda do, and serves
 * WebSocket /stream the way the WebSocket API + the stream Lambda do, running the real
 * Python handlers in warm worker processes. Stand-ins only at the AWS API boundaries:
 * the fake model (SageMaker runtime), the API Gateway management API and Lambda's
 * Invoke (dev/server/aws-standins.ts), and optionally the WAF's rate rule.
 *
 *   npm run dev -- [--port 8080] [--model ID] [--delay-ms 0] [--rate-limit N] [-- <extra fake_sagemaker.py args>]
 *   npm run dev -- --sagemaker --endpoint NAME --region R   (real endpoint, your AWS credentials)
 *
 * Parts: dev/server/static.ts (site/), chat-route.ts (POST /chat), stream-function.ts and
 * stream-route.ts (WebSocket /stream), conversations-route.ts (/conversations), signin.ts
 * and cognito-standin.ts (sign-in), aws-standins.ts, rate-limit.ts (WAF), processes.ts (workers).
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import path from "node:path";
import chatErrors from "../contract/chat-errors.json";
import { chatRoute, gatewayError } from "./server/chat-route";
import { CognitoStandIn, type StandInUser } from "./server/cognito-standin";
import { conversationsRoute, isConversationsPath } from "./server/conversations-route";
import { callerOf, conversationsEnvironment, pageConfig, proxyClaims, signInEnvironment, startSharedStore, withSignInOrigin } from "./server/signin";
import { sendJson, sourceIp } from "./server/http";
import { ROOT, SingleWorker, StartupError, signalGroup, startFakeModel, stopChild, type Log } from "./server/processes";
import { RateLimiter, TOO_MANY_REQUESTS } from "./server/rate-limit";
import { modelEmulation } from "./server/model-emulation";
import { serveStatic } from "./server/static";
import { startStreamFunction, type StreamFunction } from "./server/stream-function";
import { refuseUpgrade } from "./server/stream-route";

export { mapLambdaError } from "./server/chat-route";

const HOST = "127.0.0.1";
export const DEFAULT_ENDPOINT = "jumpstart-dft-hf-llm-falcon-7b-instruct-bf16";
export const DEFAULT_REGION = "ap-northeast-2";

export interface DevServerOptions {
  /** Port on 127.0.0.1; 0 picks a free one. @default 8080 */
  port?: number;
  /** Use a real SageMaker endpoint with the caller's AWS credentials instead of the fake model. */
  sagemaker?: boolean;
  /** Endpoint name given to the handlers (env `endpoint`). */
  endpoint?: string;
  /** AWS region for the handlers. @default $AWS_REGION, else ap-northeast-2 */
  region?: string;
  /**
   * The catalogue model to emulate: the handlers get the stack's settings for it and the fake
   * its limits and chat template (dev/server/model-emulation.ts).
   * @default "tiiuae/Falcon3-7B-Instruct" (the model `modelDeploy` deploys)
   */
  model?: string;
  /** Fake model: milliseconds before each answer. @default 0 */
  delayMs?: number;
  /** Fake model: further arguments for dev/fake_sagemaker.py (e.g. --first-token-ms 300). */
  fakeArgs?: string[];
  /** Extra environment for both handlers, e.g. { MODEL_READ_TIMEOUT_SECONDS: "1" }. */
  lambdaEnv?: Record<string, string>;
  /** API Gateway's integration timeout: answer 504 after this long. @default 29000 */
  integrationTimeoutMs?: number;
  /**
   * Larger /chat bodies get 400 Invalid request body: a local guard, above any body the
   * contract allows (a Falcon 3 history of 24,000 Korean characters is about 72 KB, with a
   * 4,000-character question about 85 KB). @default 262144
   */
  maxBodyBytes?: number;
  /** Directory served as the site. @default site/ */
  siteDir?: string;
  /** POST /chat handler as path/to/module.function, relative to the repo root. @default lambda-chat/lambda_function.lambda_handler */
  handler?: string;
  /** WebSocket handler (routes and stream jobs). @default lambda-chat/stream_function.lambda_handler */
  streamHandler?: string;
  /** The stream function's ALLOWED_ORIGINS. @default this server's own (127.0.0.1 and localhost) */
  allowedOrigins?: string[];
  /** Most stream jobs running at once (Lambda concurrency). @default 8 */
  streamConcurrency?: number;
  /** Stream workers started ahead of the first answer. @default 2 */
  streamWarm?: number;
  /** The stream function's timeout; a job running longer is killed. @default 120000 */
  streamTimeoutMs?: number;
  /** A stream job that finds no free worker this long is dropped and its failure notice sent (maximum_event_age_in_seconds). @default 60000 */
  streamMaxEventAgeMs?: number;
  /** The failure notice (the stream function's on-failure destination). @default lambda-chat/stream_failures.notice.lambda_handler */
  failureHandler?: string;
  /** Emulate the WAF's rate rule: more than N requests to /chat and /stream from one address in 5 minutes get 429. */
  rateLimit?: number;
  /** Python interpreter. @default python3 */
  python?: string;
  /** Receives the server's and the child processes' log lines. @default stderr */
  log?: Log;
  /**
   * Sign-in through a local Cognito stand-in on its own port (dev/server/cognito-standin.ts),
   * with tokens checked as API Gateway and $connect check them. @default true
   */
  auth?: boolean;
  /** Accounts of the stand-in. @default one: dev@example.com with a random password */
  users?: StandInUser[];
  /** Answers per person per UTC day; 0 = unlimited. @default 200 */
  dailyAnswersPerUser?: number;
  /** ID and access token lifetime of the stand-in. @default 3600 */
  tokenLifetimeSeconds?: number;
  /**
   * Saved conversations (sign-in only): the /conversations routes and CONVERSATIONS_TABLE in
   * the shared store; off, the page keeps conversations in the browser. @default `auth`
   */
  conversations?: boolean;
  /** The conversations function. @default lambda-chat/conversations_function.lambda_handler */
  conversationsHandler?: string;
}

export interface DevServer {
  /** Base URL, ending in "/". */
  url: string;
  /** The fake model's URL, when one was started. */
  modelUrl?: string;
  /** The internal stand-in of the management API and Lambda Invoke. */
  awsUrl: string;
  /** Forgets the rate rule's counts (tests: "five minutes later"). */
  resetRateLimit(): void;
  /** Closes every /stream socket from the server's side, as API Gateway does when idle; returns how many. */
  dropConnections(): number;
  /** The Cognito stand-in, with sign-in on. */
  cognito?: CognitoStandIn;
  /** Its accounts (with sign-in on). */
  users: StandInUser[];
  close(): Promise<void>;
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const log: Log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const python = options.python ?? "python3";
  const siteDir = path.resolve(options.siteDir ?? path.join(ROOT, "site"));
  const integrationTimeoutMs = options.integrationTimeoutMs ?? 29_000;
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? DEFAULT_REGION;
  const limiter = options.rateLimit !== undefined ? new RateLimiter(options.rateLimit) : undefined;
  const emulated = modelEmulation(options.model);
  const auth = options.auth ?? true;
  const dailyAnswersPerUser = options.dailyAnswersPerUser ?? 200;
  const users = auth ? (options.users ?? [{ email: "dev@example.com", password: `Dev-${randomBytes(9).toString("base64url")}1a` }]) : [];
  const conversations = options.conversations ?? auth;
  if (conversations && !auth) throw new StartupError("saved conversations need sign-in (there is nobody to keep them for): leave out --no-auth, or add --no-conversations");

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    endpoint: options.endpoint ?? DEFAULT_ENDPOINT,
    ...emulated.lambdaEnv,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    PYTHONUNBUFFERED: "1",
    PYTHONDONTWRITEBYTECODE: "1",
  };
  for (const name of ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_ENDPOINT_URL_LAMBDA", "CONNECTIONS_TABLE", "CONVERSATIONS_TABLE"]) delete env[name];

  let fake: ReturnType<typeof startFakeModel> | undefined;
  let modelUrl: string | undefined;
  let rest: SingleWorker | undefined;
  let convo: SingleWorker | undefined;
  let stream: StreamFunction | undefined;
  let chat: ReturnType<typeof chatRoute> | undefined;
  let ticket: ReturnType<typeof chatRoute> | undefined;
  let saved: ReturnType<typeof conversationsRoute> | undefined;
  let cognito: CognitoStandIn | undefined;
  let store: ReturnType<typeof startSharedStore> | undefined;
  // chat.html with the sign-in origin in its CSP, as the stack uploads it.
  const transform = (relative: string, content: Buffer) =>
    cognito && relative.replace(/^\//, "") === "chat.html" ? withSignInOrigin(content.toString("utf8"), cognito.url) : content;

  // The socket is bound first (the workers need its port for ALLOWED_ORIGINS), but every
  // request and upgrade waits here until all routes are ready: a page served before /stream
  // could be upgraded would silently fall back to POST /chat.
  let routesReady!: () => void;
  const ready = new Promise<void>((resolve) => (routesReady = resolve));

  const server = http.createServer((req, res) => void ready.then(() => handle(req, res)));
  function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const { pathname } = new URL(req.url ?? "/", "http://localhost");
    const api = pathname === "/chat" || pathname.startsWith("/chat/");
    const handled =
      api && limiter && !limiter.allow(sourceIp(req))
        ? Promise.resolve(sendJson(res, TOO_MANY_REQUESTS.statusCode, { message: TOO_MANY_REQUESTS.message, reason: TOO_MANY_REQUESTS.reason }))
        : pathname === "/chat" && req.method === "POST" && chat
          ? chat(req, res)
          : pathname === "/chat/ticket" && req.method === "POST" && ticket
            ? ticket(req, res)
          : isConversationsPath(pathname) && saved
            ? saved(req, res)
          : pathname === "/auth-config.json" && cognito
            ? Promise.resolve(sendJson(res, 200, pageConfig(cognito, dailyAnswersPerUser, conversations), { "Cache-Control": "no-cache" }))
          : api
            ? // API Gateway's answer for a method or resource it does not have.
              Promise.resolve(sendJson(res, 403, gatewayError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")))
            : pathname === "/stream"
              ? Promise.resolve(sendJson(res, 426, { message: "Upgrade Required" }))
              : serveStatic(req, res, siteDir, pathname, transform);
    handled.catch((error: Error) => {
      log(`[dev] ${req.method} ${pathname}: ${error.stack ?? error}`);
      if (!res.headersSent) sendJson(res, 500, { message: chatErrors.fallbackMessage, reason: chatErrors.fallbackReason });
      else res.destroy();
    });
  }
  server.on("upgrade", (req, socket, head) => {
    socket.on("error", () => undefined); // a client that gave up while the server was starting
    void ready.then(() => upgrade(req, socket, head));
  });
  function upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer) {
    if (socket.destroyed) return;
    const { pathname } = new URL(req.url ?? "/", "http://localhost");
    const gateway = stream?.gateway;
    if (pathname !== "/stream" || !gateway) refuseUpgrade(socket, 404);
    else if (limiter && !limiter.allow(sourceIp(req))) {
      refuseUpgrade(socket, TOO_MANY_REQUESTS.statusCode, JSON.stringify({ message: TOO_MANY_REQUESTS.message, reason: TOO_MANY_REQUESTS.reason }));
    } else gateway.handleUpgrade(req, socket, head);
  }

  // Should this process end without close() (an uncaught error), take the children along.
  const killChildren = () => {
    rest?.kill();
    convo?.kill();
    stream?.kill();
    if (fake) signalGroup(fake.child, "SIGKILL");
    if (store) signalGroup(store.child, "SIGKILL");
  };
  process.on("exit", killChildren);
  const stopAll = async () => {
    process.off("exit", killChildren);
    const stopped = stream?.close();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await Promise.all([stopped, closed, rest?.close(), convo?.close(), stopChild(fake?.child), cognito?.close()]);
    await stopChild(store?.child); // after the workers that use it
  };

  try {
    if (!options.sagemaker) {
      fake = startFakeModel(python, [...emulated.fakeArgs, "--delay-ms", String(options.delayMs ?? 0), ...(options.fakeArgs ?? [])], log);
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
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 8080, HOST, resolve);
    });
    const { port } = server.address() as AddressInfo;

    if (auth) {
      store = startSharedStore(python, log);
      cognito = new CognitoStandIn({
        users,
        redirectUris: [`http://${HOST}:${port}/chat.html`, `http://localhost:${port}/chat.html`],
        tokenLifetimeSeconds: options.tokenLifetimeSeconds,
        log,
      });
      const [storeUrl] = await Promise.all([store.ready, cognito.start()]);
      Object.assign(env, signInEnvironment(storeUrl, dailyAnswersPerUser), conversations ? conversationsEnvironment() : {});
    }

    const spec = (prefix: string, args: string[], extra: NodeJS.ProcessEnv) => ({
      python,
      args,
      env: { ...env, ...extra, ...options.lambdaEnv },
      log,
      prefix,
    });
    rest = new SingleWorker(
      spec("[lambda]", ["--handler", options.handler ?? "lambda-chat/lambda_function.lambda_handler"], {
        AWS_LAMBDA_FUNCTION_NAME: "lambda-chat-api",
      }),
    );
    const caller = cognito ? (req: http.IncomingMessage) => callerOf(cognito!, req) : undefined;
    // Up to 256 KB: Lambda's asynchronous payload limit, so a 32K model's history is not refused locally.
    const restRoute = { invoke: (event: unknown) => rest!.invoke(event), maxBodyBytes: options.maxBodyBytes ?? 256 * 1024, integrationTimeoutMs, log, caller };
    chat = chatRoute(restRoute);
    if (cognito) ticket = chatRoute({ ...restRoute, action: "ticket" });

    if (conversations) {
      const name = "lambda-chat-conversations";
      convo = new SingleWorker(spec("[conversations]", ["--handler", options.conversationsHandler ?? "lambda-chat/conversations_function.lambda_handler", "--function-name", name], { AWS_LAMBDA_FUNCTION_NAME: name }));
      saved = conversationsRoute({ invoke: (event) => convo!.invoke(event), claims: (req) => proxyClaims(cognito!, req), maxBodyBytes: restRoute.maxBodyBytes, integrationTimeoutMs, stage: "dev", log });
    }

    const streamFunction = startStreamFunction({
      spec,
      handler: options.streamHandler ?? "lambda-chat/stream_function.lambda_handler",
      failureHandler: options.failureHandler ?? "lambda-chat/stream_failures.notice.lambda_handler",
      allowedOrigins: options.allowedOrigins ?? [`http://${HOST}:${port}`, `http://localhost:${port}`],
      concurrency: options.streamConcurrency ?? 8,
      warm: options.streamWarm ?? 2,
      timeoutMs: options.streamTimeoutMs ?? 120_000,
      maxEventAgeMs: options.streamMaxEventAgeMs,
      integrationTimeoutMs,
      region,
      log,
    }).then((started) => (stream = started));
    // Settled first, so that stopAll below also finds a stream function that did start.
    const failed = (await Promise.allSettled([rest.start(), convo?.start(), streamFunction])).find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    routesReady();
  } catch (error) {
    await stopAll();
    throw error;
  }

  const { port } = server.address() as AddressInfo;
  const awsUrl = stream!.aws.url;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${HOST}:${port}/`,
    modelUrl,
    awsUrl,
    resetRateLimit: () => limiter?.reset(),
    dropConnections: () => stream?.gateway.drop() ?? 0,
    cognito,
    users,
    close() {
      closing ??= stopAll();
      return closing;
    },
  };
}

if (require.main === module) void import("./server/cli").then((cli) => cli.main(process.argv.slice(2)));
