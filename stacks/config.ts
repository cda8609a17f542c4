/**
 * The one place the chatbot's configuration is defined, read and validated.
 *
 * Sources, later wins:
 *   1. built-in defaults (`DEFAULTS` below; they reproduce the original sample),
 *   2. `cdktf.json` → `context.chatbot` (shared settings),
 *   3. `cdktf.json` → `context.chatbot.environments.<name>` (per-environment settings),
 *   4. `CHATBOT_*` environment variables (for CI; they apply to every environment).
 *
 * Every value is checked before any resource is built. All problems are reported
 * together, each naming the setting, where it came from, the bad value and what
 * is allowed, so a wrong value fails the synth instead of the deploy.
 */

/** Text-generation parameters sent to the Hugging Face TGI container with every prompt. */
export interface GenerationParameters {
  /** @default 512 */
  readonly maxNewTokens: number;
  /** @default false */
  readonly doSample: boolean;
  /** TGI rejects 0. @default 0.5 */
  readonly temperature: number;
  /** @default 1.03 */
  readonly repetitionPenalty: number;
  /** Strictly between 0 and 1 (TGI rule). @default 0.9 */
  readonly topP: number;
  /** @default 1 */
  readonly topK: number;
  /** Generation stops at any of these. @default ["<|endoftext|>", "</s>"] */
  readonly stop: readonly string[];
}

/** Where an environment keeps its Terraform state. */
export type BackendKind = "local" | "s3" | "cloud";

/** Every setting of one environment, after defaults and overrides are applied. */
export interface EnvironmentConfig {
  /** Environment name; the stack is `chatbot-<name>` and resource names end in `-<name>`. */
  readonly name: string;
  /** AWS region of every resource (CloudFront is global). @default "ap-northeast-2" */
  readonly region: string;
  /** Name of the SageMaker endpoint that serves the Falcon model. @default "jumpstart-dft-hf-llm-falcon-7b-instruct-bf16" */
  readonly endpointName: string;
  /** API Gateway stage name. @default the environment name ("dev" for the default environment) */
  readonly stage: string;
  /** Lambda function name before the `-<environment>` suffix. @default "lambda-chat-api" */
  readonly functionName: string;
  /** REST API name before the `-<environment>` suffix. @default "api-chatbot" */
  readonly apiName: string;
  /** API Gateway credentials role name before the `-<environment>` suffix. @default "api-role-chatbot" */
  readonly apiRoleName: string;
  /** Lambda runtime. @default "python3.13" */
  readonly lambdaRuntime: string;
  /** Lambda timeout in seconds, 1–900. @default 120 */
  readonly lambdaTimeoutSeconds: number;
  /** Lambda memory in MB, 128–10240. @default 256 */
  readonly lambdaMemoryMb: number;
  /** Retention of every log group this stack creates. @default 1 */
  readonly logRetentionDays: number;
  /** CloudFront price class. @default "PriceClass_200" */
  readonly priceClass: string;
  /** API Gateway integration timeout in ms: 50–29000, up to 300000 with `allowLongIntegrationTimeout`. @default 29000 */
  readonly integrationTimeoutMs: number;
  /** Set only after AWS raised the account's integration-timeout quota for regional APIs. @default false */
  readonly allowLongIntegrationTimeout: boolean;
  /** Steady-state requests per second for the stage. @default 10 */
  readonly throttlingRateLimit: number;
  /** Burst requests for the stage. @default 20 */
  readonly throttlingBurstLimit: number;
  /** API Gateway data trace (logs full request and response bodies, i.e. prompts). @default true only when the stage is "dev" */
  readonly dataTrace: boolean;
  /** Create the account-level CloudWatch role API Gateway logging needs. @default true */
  readonly manageApiGatewayAccount: boolean;
  /** Lambda logs prompt and answer text (debug only). @default false */
  readonly logPrompts: boolean;
  /** Longest `text` accepted, in characters after trimming. @default 4000 */
  readonly maxTextChars: number;
  /** Most `history` turns accepted. @default 10 */
  readonly maxHistoryTurns: number;
  /** Most characters over all `history` contents. @default 8000 */
  readonly maxHistoryChars: number;
  /** Generation parameters. @default the original sample's */
  readonly generation: GenerationParameters;
  /** State backend kind. @default "local" */
  readonly backend: BackendKind;
  /** S3 backend: bucket (required for "s3"). */
  readonly stateBucket?: string;
  /** S3 backend: object key. @default "chatbot/<environment>/terraform.tfstate" */
  readonly stateKey: string;
  /** S3 backend: bucket region. @default the stack region */
  readonly stateRegion: string;
  /** Terraform Cloud: organization (required for "cloud"). */
  readonly tfcOrganization?: string;
  /** Terraform Cloud: workspace (required for "cloud"). */
  readonly tfcWorkspace?: string;
  /** Terraform Cloud / Enterprise host. @default "app.terraform.io" */
  readonly tfcHostname: string;
  /** Test only: send every AWS API call (and the S3 backend) to this emulator URL. Never set for a real deploy. */
  readonly awsEndpointUrl?: string;
}

/** The whole application's configuration: one entry per environment, one stack each. */
export interface ChatbotConfig {
  readonly environments: readonly EnvironmentConfig[];
}

/** Thrown when configuration is invalid; the message lists every problem found. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid chatbot configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

export const DEFAULT_GENERATION: GenerationParameters = {
  maxNewTokens: 512,
  doSample: false,
  temperature: 0.5,
  repetitionPenalty: 1.03,
  topP: 0.9,
  topK: 1,
  stop: ["<|endoftext|>", "</s>"],
};

type Derived = "name" | "stage" | "dataTrace" | "stateKey" | "stateRegion";

/** Built-in defaults: the original sample's values, with the fixes this project makes (runtime). */
export const DEFAULTS: Omit<EnvironmentConfig, Derived> = {
  region: "ap-northeast-2",
  endpointName: "jumpstart-dft-hf-llm-falcon-7b-instruct-bf16",
  functionName: "lambda-chat-api",
  apiName: "api-chatbot",
  apiRoleName: "api-role-chatbot",
  lambdaRuntime: "python3.13",
  lambdaTimeoutSeconds: 120,
  // The sample used Lambda's 128 MB default; boto3's import alone takes ~2 s of a cold start there.
  lambdaMemoryMb: 256,
  logRetentionDays: 1,
  priceClass: "PriceClass_200",
  integrationTimeoutMs: 29_000,
  allowLongIntegrationTimeout: false,
  throttlingRateLimit: 10,
  throttlingBurstLimit: 20,
  manageApiGatewayAccount: true,
  logPrompts: false,
  maxTextChars: 4000,
  maxHistoryTurns: 10,
  maxHistoryChars: 8000,
  generation: DEFAULT_GENERATION,
  backend: "local",
  tfcHostname: "app.terraform.io",
};

/** The environment built when none is configured. */
export const DEFAULT_ENVIRONMENT = "dev";

export const AWS_REGIONS: readonly string[] = [
  "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
  "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
  "ap-southeast-5", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2",
  "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1",
  "me-central-1", "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1",
  "us-west-2", "us-gov-east-1", "us-gov-west-1", "cn-north-1", "cn-northwest-1",
];

/** Values CloudWatch Logs accepts for retention_in_days. */
export const LOG_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
];

/** Python runtimes the handler is written and tested for (python3.9 is deprecated since 2025-12-15). */
export const LAMBDA_RUNTIMES: readonly string[] = ["python3.11", "python3.12", "python3.13"];

export const PRICE_CLASSES: readonly string[] = ["PriceClass_100", "PriceClass_200", "PriceClass_All"];

export const BACKEND_KINDS: readonly BackendKind[] = ["local", "s3", "cloud"];

type ValueKind = "string" | "int" | "number" | "boolean" | "json";

/** Every setting that may be given in cdktf.json or the environment, and how to read it. */
export const SETTINGS: Readonly<Record<Exclude<keyof EnvironmentConfig, "name">, { env: string; kind: ValueKind }>> = {
  region: { env: "CHATBOT_REGION", kind: "string" },
  endpointName: { env: "CHATBOT_ENDPOINT_NAME", kind: "string" },
  stage: { env: "CHATBOT_STAGE", kind: "string" },
  functionName: { env: "CHATBOT_FUNCTION_NAME", kind: "string" },
  apiName: { env: "CHATBOT_API_NAME", kind: "string" },
  apiRoleName: { env: "CHATBOT_API_ROLE_NAME", kind: "string" },
  lambdaRuntime: { env: "CHATBOT_LAMBDA_RUNTIME", kind: "string" },
  lambdaTimeoutSeconds: { env: "CHATBOT_LAMBDA_TIMEOUT_SECONDS", kind: "int" },
  lambdaMemoryMb: { env: "CHATBOT_LAMBDA_MEMORY_MB", kind: "int" },
  logRetentionDays: { env: "CHATBOT_LOG_RETENTION_DAYS", kind: "int" },
  priceClass: { env: "CHATBOT_PRICE_CLASS", kind: "string" },
  integrationTimeoutMs: { env: "CHATBOT_INTEGRATION_TIMEOUT_MS", kind: "int" },
  allowLongIntegrationTimeout: { env: "CHATBOT_ALLOW_LONG_INTEGRATION_TIMEOUT", kind: "boolean" },
  throttlingRateLimit: { env: "CHATBOT_THROTTLING_RATE_LIMIT", kind: "number" },
  throttlingBurstLimit: { env: "CHATBOT_THROTTLING_BURST_LIMIT", kind: "int" },
  dataTrace: { env: "CHATBOT_DATA_TRACE", kind: "boolean" },
  manageApiGatewayAccount: { env: "CHATBOT_MANAGE_API_GATEWAY_ACCOUNT", kind: "boolean" },
  logPrompts: { env: "CHATBOT_LOG_PROMPTS", kind: "boolean" },
  maxTextChars: { env: "CHATBOT_MAX_TEXT_CHARS", kind: "int" },
  maxHistoryTurns: { env: "CHATBOT_MAX_HISTORY_TURNS", kind: "int" },
  maxHistoryChars: { env: "CHATBOT_MAX_HISTORY_CHARS", kind: "int" },
  generation: { env: "CHATBOT_GENERATION", kind: "json" },
  backend: { env: "CHATBOT_BACKEND", kind: "string" },
  stateBucket: { env: "CHATBOT_STATE_BUCKET", kind: "string" },
  stateKey: { env: "CHATBOT_STATE_KEY", kind: "string" },
  stateRegion: { env: "CHATBOT_STATE_REGION", kind: "string" },
  tfcOrganization: { env: "CHATBOT_TFC_ORGANIZATION", kind: "string" },
  tfcWorkspace: { env: "CHATBOT_TFC_WORKSPACE", kind: "string" },
  tfcHostname: { env: "CHATBOT_TFC_HOSTNAME", kind: "string" },
  awsEndpointUrl: { env: "CHATBOT_AWS_ENDPOINT_URL", kind: "string" },
};

/** Selects which environments to build, e.g. `CHATBOT_ENVIRONMENTS=prod`. */
export const ENVIRONMENTS_ENV = "CHATBOT_ENVIRONMENTS";

type SettingKey = keyof typeof SETTINGS;
type RawSettings = Partial<Record<SettingKey, unknown>>;
/** A raw value together with the place it came from, for error messages. */
type Sourced = Partial<Record<SettingKey, { value: unknown; source: string }>>;

/** Shape of `cdktf.json` → `context.chatbot`. */
export interface ChatbotContext extends RawSettings {
  /** Environment name → its own settings. @default { "dev": {} } */
  readonly environments?: Record<string, RawSettings>;
}

const ENV_NAME = /^[a-z][a-z0-9]{0,11}$/;
// SageMaker's rule for endpoint names.
const ENDPOINT_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
// API Gateway stage names: letters, digits, hyphens and underscores, at most 128.
const STAGE_NAME = /^[A-Za-z0-9_-]{1,128}$/;
const LAMBDA_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const IAM_ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const S3_BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const TFC_NAME = /^[A-Za-z0-9_-]{1,90}$/;

/**
 * Reads and validates the configuration.
 *
 * @param context `cdktf.json` → `context.chatbot` (may be undefined)
 * @param env the process environment (only `CHATBOT_*` variables are read)
 * @throws ConfigError listing every invalid value
 */
export function loadConfig(context: unknown, env: NodeJS.ProcessEnv): ChatbotConfig {
  const problems: string[] = [];
  const ctx = readContext(context, problems);
  const perEnvironment = ctx.environments ?? { [DEFAULT_ENVIRONMENT]: {} };

  let names = Object.keys(perEnvironment);
  const selected = env[ENVIRONMENTS_ENV];
  if (selected !== undefined && selected.trim() !== "") {
    names = selected.split(",").map((n) => n.trim()).filter((n) => n !== "");
  }
  if (names.length === 0) problems.push(`no environments configured; set ${ENVIRONMENTS_ENV} or context chatbot.environments`);

  const environments: EnvironmentConfig[] = [];
  for (const name of names) {
    if (!ENV_NAME.test(name)) {
      problems.push(`environment name "${name}" is invalid; allowed: 1-12 lowercase letters and digits, starting with a letter`);
      continue;
    }
    const sourced: Sourced = {};
    collect(sourced, withoutEnvironments(ctx), "cdktf.json context chatbot", problems);
    collect(sourced, perEnvironment[name] ?? {}, `cdktf.json context chatbot.environments.${name}`, problems);
    collectEnv(sourced, env, problems);
    const resolved = resolveEnvironment(name, sourced, problems);
    if (resolved) environments.push(resolved);
  }
  checkAcrossEnvironments(environments, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return { environments };
}

function readContext(context: unknown, problems: string[]): ChatbotContext {
  if (context === undefined || context === null) return {};
  if (!isObject(context)) {
    problems.push(`cdktf.json context chatbot must be an object, got ${describe(context)}`);
    return {};
  }
  const environments = context.environments;
  if (environments !== undefined && (!isObject(environments) || Object.values(environments).some((v) => !isObject(v)))) {
    problems.push(`cdktf.json context chatbot.environments must map environment names to objects, got ${describe(environments)}`);
    return { ...context, environments: undefined } as ChatbotContext;
  }
  return context as ChatbotContext;
}

function withoutEnvironments(ctx: ChatbotContext): RawSettings {
  const { environments: _ignored, ...shared } = ctx;
  return shared;
}

function collect(into: Sourced, raw: RawSettings, source: string, problems: string[]): void {
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in SETTINGS)) {
      problems.push(`unknown setting "${key}" in ${source}; known settings: ${Object.keys(SETTINGS).join(", ")}`);
      continue;
    }
    into[key as SettingKey] = { value, source: `${source}.${key}` };
  }
}

function collectEnv(into: Sourced, env: NodeJS.ProcessEnv, problems: string[]): void {
  for (const [key, spec] of Object.entries(SETTINGS) as [SettingKey, (typeof SETTINGS)[SettingKey]][]) {
    const raw = env[spec.env];
    if (raw === undefined || raw === "") continue;
    const source = `environment variable ${spec.env}`;
    const parsed = parseEnvValue(raw, spec.kind);
    if (parsed.ok) into[key] = { value: parsed.value, source };
    else problems.push(`${source}="${raw}" is not ${parsed.expected}`);
  }
}

function parseEnvValue(raw: string, kind: ValueKind): { ok: true; value: unknown } | { ok: false; expected: string } {
  switch (kind) {
    case "string":
      return { ok: true, value: raw };
    case "int":
    case "number": {
      const n = Number(raw.trim());
      return raw.trim() !== "" && Number.isFinite(n) ? { ok: true, value: n } : { ok: false, expected: "a number" };
    }
    case "boolean":
      if (raw === "true" || raw === "false") return { ok: true, value: raw === "true" };
      return { ok: false, expected: 'a boolean ("true" or "false")' };
    case "json":
      try {
        return { ok: true, value: JSON.parse(raw) };
      } catch {
        return { ok: false, expected: "valid JSON" };
      }
  }
}

/** Applies defaults to one environment's raw settings and validates each value. */
function resolveEnvironment(name: string, s: Sourced, problems: string[]): EnvironmentConfig | undefined {
  const before = problems.length;
  const check = new Checker(s, problems);

  const region = check.oneOf("region", DEFAULTS.region, AWS_REGIONS, "a known AWS region");
  const stage = check.matches("stage", name, STAGE_NAME, "1-128 letters, digits, hyphens or underscores (API Gateway stage name rule)");
  const functionName = check.matches("functionName", DEFAULTS.functionName, /^[A-Za-z0-9_-]+$/, "letters, digits, hyphens or underscores");
  const apiRoleName = check.matches("apiRoleName", DEFAULTS.apiRoleName, /^[\w+=,.@-]+$/, "IAM role name characters");
  const integrationTimeoutMs = check.int("integrationTimeoutMs", DEFAULTS.integrationTimeoutMs, 50, 300_000);
  const allowLongIntegrationTimeout = check.bool("allowLongIntegrationTimeout", DEFAULTS.allowLongIntegrationTimeout);
  if (integrationTimeoutMs > 29_000 && !allowLongIntegrationTimeout) {
    check.fail("integrationTimeoutMs", integrationTimeoutMs, "50-29000 ms; up to 300000 ms only with allowLongIntegrationTimeout=true after AWS raised the account quota");
  }
  const backend = check.oneOf("backend", DEFAULTS.backend, BACKEND_KINDS, "a backend kind") as BackendKind;

  const config: EnvironmentConfig = {
    name,
    region,
    endpointName: check.matches("endpointName", DEFAULTS.endpointName, ENDPOINT_NAME, "1-63 letters, digits or hyphens, starting and ending with a letter or digit (SageMaker endpoint name rule)"),
    stage,
    functionName,
    apiName: check.matches("apiName", DEFAULTS.apiName, /^[A-Za-z0-9 _.-]{1,100}$/, "1-100 letters, digits, spaces, dots, hyphens or underscores"),
    apiRoleName,
    lambdaRuntime: check.oneOf("lambdaRuntime", DEFAULTS.lambdaRuntime, LAMBDA_RUNTIMES, "a supported Python runtime (python3.9 is deprecated since 2025-12-15)"),
    lambdaTimeoutSeconds: check.int("lambdaTimeoutSeconds", DEFAULTS.lambdaTimeoutSeconds, 1, 900),
    lambdaMemoryMb: check.int("lambdaMemoryMb", DEFAULTS.lambdaMemoryMb, 128, 10_240),
    logRetentionDays: check.oneOf("logRetentionDays", DEFAULTS.logRetentionDays, LOG_RETENTION_DAYS, "a retention CloudWatch Logs accepts"),
    priceClass: check.oneOf("priceClass", DEFAULTS.priceClass, PRICE_CLASSES, "a CloudFront price class"),
    integrationTimeoutMs,
    allowLongIntegrationTimeout,
    throttlingRateLimit: check.number("throttlingRateLimit", DEFAULTS.throttlingRateLimit, 0.001, 10_000),
    throttlingBurstLimit: check.int("throttlingBurstLimit", DEFAULTS.throttlingBurstLimit, 0, 5_000),
    dataTrace: check.bool("dataTrace", stage === "dev"),
    manageApiGatewayAccount: check.bool("manageApiGatewayAccount", DEFAULTS.manageApiGatewayAccount),
    logPrompts: check.bool("logPrompts", DEFAULTS.logPrompts),
    maxTextChars: check.int("maxTextChars", DEFAULTS.maxTextChars, 1, 100_000),
    maxHistoryTurns: check.int("maxHistoryTurns", DEFAULTS.maxHistoryTurns, 0, 100),
    maxHistoryChars: check.int("maxHistoryChars", DEFAULTS.maxHistoryChars, 0, 200_000),
    generation: check.generation(),
    backend,
    stateBucket: check.optional("stateBucket", S3_BUCKET_NAME, "an S3 bucket name (3-63 lowercase letters, digits, dots or hyphens)"),
    stateKey: check.matches("stateKey", `chatbot/${name}/terraform.tfstate`, /^[^\s].{0,1023}$/, "a non-empty S3 key"),
    stateRegion: check.oneOf("stateRegion", region, AWS_REGIONS, "a known AWS region"),
    tfcOrganization: check.optional("tfcOrganization", TFC_NAME, "a Terraform Cloud organization name"),
    tfcWorkspace: check.optional("tfcWorkspace", TFC_NAME, "a Terraform Cloud workspace name (letters, digits, hyphens, underscores)"),
    tfcHostname: check.matches("tfcHostname", DEFAULTS.tfcHostname, /^[a-z0-9.-]+(:\d+)?$/, "a host name"),
    awsEndpointUrl: check.optional("awsEndpointUrl", /^https?:\/\/[^\s/]+\/?$/, "an http(s) URL without a path"),
  };

  // Names AWS builds from ours must still fit AWS's own limits.
  const fullFunctionName = `${functionName}-${name}`;
  if (!LAMBDA_NAME.test(fullFunctionName)) {
    check.fail("functionName", functionName, `a name that, with "-${name}" appended, is at most 64 characters`);
  }
  if (!IAM_ROLE_NAME.test(`${apiRoleName}-${name}`)) {
    check.fail("apiRoleName", apiRoleName, `a name that, with "-${name}" appended, is at most 64 characters`);
  }
  if (backend === "s3" && config.stateBucket === undefined) {
    problems.push(`backend "s3" (environment ${name}) needs stateBucket (cdktf.json context or CHATBOT_STATE_BUCKET)`);
  }
  if (backend === "cloud") {
    if (config.tfcOrganization === undefined) problems.push(`backend "cloud" (environment ${name}) needs tfcOrganization (cdktf.json context or CHATBOT_TFC_ORGANIZATION)`);
    if (config.tfcWorkspace === undefined) problems.push(`backend "cloud" (environment ${name}) needs tfcWorkspace (cdktf.json context or CHATBOT_TFC_WORKSPACE)`);
  }
  return problems.length === before ? config : undefined;
}

/** Two environments must never share state or a Terraform Cloud workspace. */
function checkAcrossEnvironments(environments: EnvironmentConfig[], problems: string[]): void {
  const seen = new Map<string, string>();
  for (const e of environments) {
    let place: string | undefined;
    if (e.backend === "s3") place = `S3 state s3://${e.stateBucket}/${e.stateKey}`;
    if (e.backend === "cloud") place = `Terraform Cloud workspace ${e.tfcOrganization}/${e.tfcWorkspace}`;
    if (place === undefined) continue;
    const other = seen.get(place);
    if (other !== undefined) problems.push(`environments ${other} and ${e.name} share the ${place}; give each its own`);
    else seen.set(place, e.name);
  }
}

/** Reads one environment's values with their defaults, recording every problem. */
class Checker {
  constructor(
    private readonly s: Sourced,
    private readonly problems: string[],
  ) {}

  fail(key: SettingKey, value: unknown, allowed: string): void {
    const source = this.s[key]?.source ?? "built-in default";
    this.problems.push(`${key} = ${JSON.stringify(value)} (from ${source}) is invalid; allowed: ${allowed}`);
  }

  private raw(key: SettingKey): unknown {
    return this.s[key]?.value;
  }

  oneOf<T extends string | number>(key: SettingKey, fallback: T, allowed: readonly T[], what: string): T {
    const value = this.raw(key) ?? fallback;
    if (allowed.includes(value as T)) return value as T;
    this.fail(key, value, `${what}: ${allowed.join(", ")}`);
    return fallback;
  }

  matches(key: SettingKey, fallback: string, pattern: RegExp, what: string): string {
    const value = this.raw(key) ?? fallback;
    if (typeof value === "string" && pattern.test(value)) return value;
    this.fail(key, value, what);
    return fallback;
  }

  optional(key: SettingKey, pattern: RegExp, what: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value === "string" && pattern.test(value)) return value;
    this.fail(key, value, what);
    return undefined;
  }

  int(key: SettingKey, fallback: number, min: number, max: number): number {
    const value = this.raw(key) ?? fallback;
    if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) return value;
    this.fail(key, value, `a whole number from ${min} to ${max}`);
    return fallback;
  }

  number(key: SettingKey, fallback: number, min: number, max: number): number {
    const value = this.raw(key) ?? fallback;
    if (typeof value === "number" && Number.isFinite(value) && value >= min && value <= max) return value;
    this.fail(key, value, `a number from ${min} to ${max}`);
    return fallback;
  }

  bool(key: SettingKey, fallback: boolean): boolean {
    const value = this.raw(key) ?? fallback;
    if (typeof value === "boolean") return value;
    this.fail(key, value, "true or false");
    return fallback;
  }

  /** Generation parameters: any subset of the defaults' keys, each within TGI's limits. */
  generation(): GenerationParameters {
    const value = this.raw("generation");
    if (value === undefined) return DEFAULT_GENERATION;
    if (!isObject(value)) {
      this.fail("generation", value, `an object with any of: ${Object.keys(DEFAULT_GENERATION).join(", ")}`);
      return DEFAULT_GENERATION;
    }
    const source = this.s.generation?.source ?? "built-in default";
    for (const field of Object.keys(value)) {
      if (!(field in DEFAULT_GENERATION)) {
        this.problems.push(`unknown generation parameter "${field}" (from ${source}); known: ${Object.keys(DEFAULT_GENERATION).join(", ")}`);
      }
    }
    const merged = { ...DEFAULT_GENERATION, ...value } as Record<keyof GenerationParameters, unknown>;
    const bad = (field: keyof GenerationParameters, allowed: string) =>
      this.problems.push(`generation.${field} = ${JSON.stringify(merged[field])} (from ${source}) is invalid; allowed: ${allowed}`);
    const num = (v: unknown, min: number, max: number, exclusive = false) =>
      typeof v === "number" && Number.isFinite(v) && (exclusive ? v > min && v < max : v >= min && v <= max);
    if (!(num(merged.maxNewTokens, 1, 8192) && Number.isInteger(merged.maxNewTokens))) bad("maxNewTokens", "a whole number from 1 to 8192");
    if (typeof merged.doSample !== "boolean") bad("doSample", "true or false");
    if (!num(merged.temperature, 0, 100) || merged.temperature === 0) bad("temperature", "a number greater than 0 and at most 100");
    if (!num(merged.repetitionPenalty, 0, 100) || merged.repetitionPenalty === 0) bad("repetitionPenalty", "a number greater than 0 and at most 100");
    if (!num(merged.topP, 0, 1, true)) bad("topP", "a number strictly between 0 and 1");
    if (!(num(merged.topK, 1, 1000) && Number.isInteger(merged.topK))) bad("topK", "a whole number from 1 to 1000");
    const stop = merged.stop;
    if (!Array.isArray(stop) || stop.length > 4 || stop.some((x) => typeof x !== "string" || x === "")) {
      bad("stop", "a list of at most 4 non-empty strings");
    }
    return merged as unknown as GenerationParameters;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  return Array.isArray(v) ? "a list" : v === null ? "null" : typeof v;
}
