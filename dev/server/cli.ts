/** The command line of the dev server (`npm run dev -- ...`, which runs dev/server.ts). */
import { parseArgs } from "node:util";
import { DEFAULT_ENDPOINT, DEFAULT_REGION, startDevServer, type DevServer } from "../server";
import { StartupError } from "./processes";


const USAGE = `Usage: npm run dev -- [options] [-- <extra dev/fake_sagemaker.py arguments>]

  --port N          port on 127.0.0.1 (default 8080; 0 picks a free one)
  --model ID        emulate this catalogue model: its payload style, limits and settings
                    (default tiiuae/Falcon3-7B-Instruct; e.g. huggingface-llm-falcon-7b-instruct-bf16)
  --delay-ms N      fake model: wait N ms before each answer (default 0)
  --rate-limit N    emulate the WAF's rate rule: over N requests to /chat and /stream
                    from one address in 5 minutes get its 429
  --concurrency N   stream jobs that may run at once (Lambda's concurrency; default 8)
  --max-event-age-ms N  a stream job that finds no free worker this long is dropped and
                    the page told "too busy" (Lambda's maximum event age; default 60000)
  --sagemaker       use a real SageMaker endpoint and your AWS credentials
  --endpoint NAME   endpoint name (default ${DEFAULT_ENDPOINT})
  --region R        AWS region (default $AWS_REGION or ${DEFAULT_REGION})
  --no-auth         no sign-in (auth: none): anyone may chat, as in the original sample;
                    the page keeps its conversations in the browser (localStorage)
  --no-conversations
                    sign-in without saved conversations (conversations: false): the page
                    keeps them in the browser, per account
  --user EMAIL:PASSWORD
                    an account of the local Cognito stand-in (repeatable); without one,
                    dev@example.com with a password printed at start
  --admin EMAIL     put that account in the admin group (no daily allowance; repeatable)
  --daily-answers-per-user N
                    answers per person per UTC day (default 200; 0 = unlimited)
  -h, --help        this text

Fake model pace, after a second --: e.g. npm run dev -- -- --first-token-ms 800 --tokens-per-second 10`;

export async function main(argv: string[]) {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        port: { type: "string", default: "8080" },
        "delay-ms": { type: "string", default: "0" },
        model: { type: "string" },
        "rate-limit": { type: "string" },
        concurrency: { type: "string", default: "8" },
        "max-event-age-ms": { type: "string", default: "60000" },
        sagemaker: { type: "boolean", default: false },
        endpoint: { type: "string" },
        region: { type: "string" },
        "no-auth": { type: "boolean", default: false },
        "no-conversations": { type: "boolean", default: false },
        user: { type: "string", multiple: true },
        admin: { type: "string", multiple: true },
        "daily-answers-per-user": { type: "string" },
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
  const rateLimit = values["rate-limit"] === undefined ? undefined : Number(values["rate-limit"]);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || !(delayMs >= 0)) {
    console.error(`--port must be 0..65535 and --delay-ms a non-negative number\n\n${USAGE}`);
    process.exit(2);
  }
  if (rateLimit !== undefined && !(Number.isInteger(rateLimit) && rateLimit >= 1)) {
    console.error(`--rate-limit must be a positive integer\n\n${USAGE}`);
    process.exit(2);
  }
  const concurrency = Number(values.concurrency);
  const maxEventAgeMs = Number(values["max-event-age-ms"]);
  if (!(Number.isInteger(concurrency) && concurrency >= 1) || !(Number.isInteger(maxEventAgeMs) && maxEventAgeMs >= 1)) {
    console.error(`--concurrency and --max-event-age-ms must be positive integers\n\n${USAGE}`);
    process.exit(2);
  }
  const users = (values.user ?? []).map((spec) => {
    const at = spec.indexOf(":");
    return { email: spec.slice(0, at), password: spec.slice(at + 1), groups: (values.admin ?? []).includes(spec.slice(0, at)) ? ["admin"] : [] };
  });
  if (users.some((u) => !/^[^\s@:]+@[^\s@:]+$/.test(u.email) || u.password.length === 0)) {
    console.error(`--user must be EMAIL:PASSWORD, e.g. --user ann@example.com:Secret-pass-1\n\n${USAGE}`);
    process.exit(2);
  }
  const allowance = values["daily-answers-per-user"] === undefined ? undefined : Number(values["daily-answers-per-user"]);
  if (allowance !== undefined && !(Number.isInteger(allowance) && allowance >= 0)) {
    console.error(`--daily-answers-per-user must be a whole number, 0 or more (0 = unlimited)\n\n${USAGE}`);
    process.exit(2);
  }
  if (values["no-auth"] && (users.length || allowance !== undefined || values["no-conversations"])) {
    console.error("--user, --daily-answers-per-user and --no-conversations need sign-in; leave out --no-auth");
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
      model: values.model,
      rateLimit,
      streamConcurrency: concurrency,
      streamWarm: Math.min(2, concurrency),
      streamMaxEventAgeMs: maxEventAgeMs,
      fakeArgs: positionals,
      sagemaker: values.sagemaker,
      endpoint: values.endpoint,
      region: values.region,
      auth: !values["no-auth"],
      conversations: !values["no-auth"] && !values["no-conversations"],
      users: users.length ? users : undefined,
      dailyAnswersPerUser: allowance,
    });
  } catch (error) {
    console.error(`dev server: ${error instanceof StartupError ? error.message : (error as Error).stack}`);
    process.exit(1);
  }
  const model = values.sagemaker
    ? `SageMaker endpoint ${values.endpoint ?? DEFAULT_ENDPOINT} in ${values.region ?? process.env.AWS_REGION ?? DEFAULT_REGION}`
    : `fake ${values.model ?? "tiiuae/Falcon3-7B-Instruct"} at ${dev.modelUrl}`;
  const limit = rateLimit ? `; WAF rate rule ${rateLimit} per 5 min` : "";
  console.log(`Falcon chat dev server: ${dev.url}  (WebSocket ${dev.url.replace(/^http/, "ws")}stream; ${model}${limit}; Ctrl-C stops)`);

  if (dev.cognito) {
    console.log(`Sign-in: local Cognito stand-in at ${dev.cognito.url}; daily allowance ${allowance ?? 200} answers per person; conversations ${values["no-conversations"] ? "kept in the browser (--no-conversations)" : "saved in the local DynamoDB"}`);
    for (const u of dev.users) console.log(`  account ${u.email}  password ${values.user?.length ? "(as given)" : u.password}${u.groups?.length ? "  (admin)" : ""}`);
  } else {
    console.log("Sign-in: off (--no-auth); anyone may chat; conversations kept in the browser");
  }

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
