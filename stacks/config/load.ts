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
import { AWS_REGIONS, BACKEND_KINDS, ENDPOINT_NAME, ENV_NAME, IAM_ROLE_NAME, LAMBDA_NAME, LAMBDA_RUNTIMES, LOG_RETENTION_DAYS, PRICE_CLASSES, S3_BUCKET_NAME, STAGE_NAME, TFC_NAME } from "./allowed";
import { Checker, ConfigError, describe, isObject } from "./checker";
import { BackendKind, ChatbotConfig, DEFAULT_ENVIRONMENT, DEFAULTS, EnvironmentConfig } from "./environment";
import { resolveEdgeSettings } from "./edge-settings";
import { checkEnvironmentVariableNames } from "./env-names";
import { resolveOriginTimeout } from "./origin-timeout-settings";
import { resolveAccounts } from "./account-settings";
import { resolveModelSettings } from "./model-settings";
import { CONVERSATIONS_DAILY_REQUEST_QUOTA, resolveConversationSettings } from "./conversation-settings";
import { resolveSignInSettings, SIGNED_IN_DAILY_REQUEST_QUOTA } from "./signin-settings";
import { ChatbotContext, ENVIRONMENTS_ENV, RawSettings, SETTINGS, SettingKey, Sourced, ValueKind } from "./settings";

/**
 * Reads and validates the configuration.
 *
 * @param context `cdktf.json` → `context.chatbot` (may be undefined)
 * @param env the process environment (only `CHATBOT_*` variables are read; one naming no setting is an error)
 * @throws ConfigError listing every invalid value
 */
export function loadConfig(context: unknown, env: NodeJS.ProcessEnv): ChatbotConfig {
  const problems: string[] = [];
  const ctx = readContext(context, problems);
  checkEnvironmentVariableNames(env, problems);
  const perEnvironment = ctx.environments ?? { [DEFAULT_ENVIRONMENT]: {} };

  let names = Object.keys(perEnvironment);
  const selected = env[ENVIRONMENTS_ENV];
  if (selected !== undefined && selected.trim() !== "") {
    names = selected.split(",").map((n) => n.trim()).filter((n) => n !== "");
  }
  if (names.length === 0) problems.push(`no environments configured; set ${ENVIRONMENTS_ENV} or context chatbot.environments`);

  const environments: EnvironmentConfig[] = [];
  // Environments not selected still count for who owns the account setting; their own
  // problems are reported when they are built.
  const others: EnvironmentConfig[] = [];
  for (const name of new Set([...names, ...Object.keys(perEnvironment)])) {
    const selectedName = names.includes(name);
    const found = selectedName ? problems : [];
    if (!ENV_NAME.test(name)) {
      found.push(`environment name "${name}" is invalid; allowed: 1-12 lowercase letters and digits, starting with a letter`);
      continue;
    }
    const sourced: Sourced = {};
    collect(sourced, withoutEnvironments(ctx), "cdktf.json context chatbot", found);
    collect(sourced, perEnvironment[name] ?? {}, `cdktf.json context chatbot.environments.${name}`, found);
    collectEnv(sourced, env, found);
    const resolved = resolveEnvironment(name, sourced, found);
    if (resolved) (selectedName ? environments : others).push(resolved);
  }
  checkAcrossEnvironments(environments, problems);
  const accounts = resolveAccounts(environments, [...environments, ...others], problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return { environments, accounts };
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
    case "list":
      return { ok: true, value: raw.split(",").map((item) => item.trim()).filter((item) => item !== "") };
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
  const endpointName = check.matches("endpointName", DEFAULTS.endpointName, ENDPOINT_NAME, "1-63 letters, digits or hyphens, starting and ending with a letter or digit (SageMaker endpoint name rule)");
  const signIn = resolveSignInSettings(check, name);
  const conversations = resolveConversationSettings(check, signIn.auth);

  const config: EnvironmentConfig = {
    name,
    region,
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
    ...resolveOriginTimeout(check, integrationTimeoutMs),
    throttlingRateLimit: check.number("throttlingRateLimit", DEFAULTS.throttlingRateLimit, 0.001, 10_000),
    throttlingBurstLimit: check.int("throttlingBurstLimit", DEFAULTS.throttlingBurstLimit, 0, 5_000),
    dataTrace: check.bool("dataTrace", stage === "dev"),
    manageApiGatewayAccount: check.bool("manageApiGatewayAccount", DEFAULTS.manageApiGatewayAccount),
    awsAccountId: check.optional("awsAccountId", /^\d{12}$/, "a 12-digit AWS account id such as 123456789012"),
    logPrompts: check.bool("logPrompts", DEFAULTS.logPrompts),
    maxTextChars: check.int("maxTextChars", DEFAULTS.maxTextChars, 1, 100_000),
    ...resolveModelSettings(check, name, region, endpointName),
    streaming: check.bool("streaming", DEFAULTS.streaming),
    streamFunctionName: check.matches("streamFunctionName", DEFAULTS.streamFunctionName, /^[A-Za-z0-9_-]+$/, "letters, digits, hyphens or underscores"),
    streamThrottlingRateLimit: check.number("streamThrottlingRateLimit", DEFAULTS.streamThrottlingRateLimit, 0.001, 10_000),
    streamThrottlingBurstLimit: check.int("streamThrottlingBurstLimit", DEFAULTS.streamThrottlingBurstLimit, 0, 5_000),
    maxAnswersPerConnection: check.int("maxAnswersPerConnection", DEFAULTS.maxAnswersPerConnection, 1, 10_000),
    ...resolveEdgeSettings(check),
    ...signIn,
    ...conversations,
    // With sign-in each person has an allowance; the site-wide quota is only a backstop,
    // sized for the conversations requests too when they are kept.
    ...(signIn.auth === "cognito" && !check.isSet("dailyRequestQuota")
      ? { dailyRequestQuota: conversations.conversations ? CONVERSATIONS_DAILY_REQUEST_QUOTA : SIGNED_IN_DAILY_REQUEST_QUOTA }
      : {}),
    // One address, the shape AWS accepts for an SNS e-mail subscription.
    alarmEmail: check.optional("alarmEmail", /^[^\s@,;<>]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/, "one e-mail address such as ops@example.com"),
    tracing: check.bool("tracing", DEFAULTS.tracing),
    budgetMonthlyUsd: check.optionalNumber("budgetMonthlyUsd", 0.01, 1_000_000_000, "a positive amount of US dollars (at most 1000000000)"),
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
  for (const key of ["functionName", "streamFunctionName"] as const) {
    // The role name is the longest: "<function>-role".
    if (!LAMBDA_NAME.test(`${config[key]}-${name}-role`)) {
      check.fail(key, config[key], `a name that, with "-${name}-role" appended (its role's name), is at most 64 characters`);
    }
  }
  if (config.streaming && config.streamFunctionName === functionName) {
    check.fail("streamFunctionName", config.streamFunctionName, "a name other than functionName's");
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
