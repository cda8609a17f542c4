/**
 * The stream function as the dev server runs it: its WebSocket routes in one warm worker,
 * its asynchronous stream jobs in a pool (Lambda's concurrency), its on-failure destination
 * (the failure notice) in a worker of its own, and the AWS stand-ins it calls (the
 * management API, Lambda's Invoke: aws-standins.ts), behind the WebSocket gateway
 * (stream-route.ts).
 */
import { startAwsStandIns, type AwsStandIns } from "./aws-standins";
import { SingleWorker, WorkerPool, type Log, type WorkerSpec } from "./processes";
import { Connections, streamGateway } from "./stream-route";

export const STREAM_FUNCTION = "lambda-chat-stream";
const STREAM_STAGE = "stream";

export interface StreamFunctionOptions {
  /** A worker's spec: log prefix, dev/lambda_worker.py arguments, extra environment. */
  spec(prefix: string, args: string[], extra: NodeJS.ProcessEnv): WorkerSpec;
  /** WebSocket handler (routes and stream jobs). */
  handler: string;
  /** The failure notice's handler. */
  failureHandler: string;
  /** The stream function's ALLOWED_ORIGINS. */
  allowedOrigins: string[];
  concurrency: number;
  warm: number;
  timeoutMs: number;
  maxEventAgeMs?: number;
  integrationTimeoutMs: number;
  region: string;
  log: Log;
}

export interface StreamFunction {
  gateway: ReturnType<typeof streamGateway>;
  aws: AwsStandIns;
  /** Kills every worker at once (the process exit hook). */
  kill(): void;
  close(): Promise<void>;
}

/** Starts the stand-ins and the workers (warm, as after earlier invocations), then the gateway. */
export async function startStreamFunction(o: StreamFunctionOptions): Promise<StreamFunction> {
  const connections = new Connections();
  let jobs: WorkerPool | undefined;
  let notice: SingleWorker | undefined;
  const aws = await startAwsStandIns({
    connections,
    stage: STREAM_STAGE,
    functionName: STREAM_FUNCTION,
    invoke: (event) => jobs!.invoke(event),
    invokeQueued: (event, maxEventAgeMs) => jobs!.invokeQueued(event, maxEventAgeMs),
    maxEventAgeMs: o.maxEventAgeMs,
    onFailure: (record) => notice!.invoke(record),
    region: o.region,
    log: o.log,
  });
  const streamSpec = (prefix: string) =>
    o.spec(prefix, ["--handler", o.handler, "--function-name", STREAM_FUNCTION, "--timeout-s", String(o.timeoutMs / 1000)], {
      AWS_LAMBDA_FUNCTION_NAME: STREAM_FUNCTION,
      ALLOWED_ORIGINS: JSON.stringify(o.allowedOrigins),
      CONNECTIONS_ENDPOINT: aws.connectionsEndpoint,
      AWS_ENDPOINT_URL_LAMBDA: aws.url,
    });
  // Routes run in one worker, so the in-memory answer counts ($connect ... $disconnect) add up.
  const routes = new SingleWorker(streamSpec("[stream-route]"));
  jobs = new WorkerPool(streamSpec("[stream-job]"), o.concurrency, o.timeoutMs);
  notice = new SingleWorker(
    o.spec("[stream-failed]", ["--handler", o.failureHandler, "--function-name", `${STREAM_FUNCTION}-failed`], {
      AWS_LAMBDA_FUNCTION_NAME: `${STREAM_FUNCTION}-failed`,
      CONNECTIONS_ENDPOINT: aws.connectionsEndpoint,
    }),
  );
  const workers = { routes, jobs, notice };
  const close = async () => {
    gateway?.close();
    await Promise.all([aws.close(), routes.close(), jobs!.close(), notice!.close()]);
  };
  let gateway: ReturnType<typeof streamGateway> | undefined;
  try {
    await Promise.all([routes.start(), notice.start(), jobs.prewarm(o.warm)]);
  } catch (error) {
    await close();
    throw error;
  }
  gateway = streamGateway({
    invoke: (event) => routes.invoke(event),
    connections,
    stage: STREAM_STAGE,
    apiId: "devstream0",
    integrationTimeoutMs: o.integrationTimeoutMs,
    log: o.log,
  });
  return {
    gateway,
    aws,
    kill() {
      for (const worker of Object.values(workers)) worker.kill();
    },
    close,
  };
}
