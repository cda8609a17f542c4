/** Every setting's name, environment variable and value kind, and the raw shapes read from cdktf.json. */
import type { EnvironmentConfig } from "./environment";
import { CONVERSATION_SETTINGS } from "./conversation-settings";
import { SIGN_IN_SETTINGS } from "./signin-settings";

/** How an environment variable is read; a "list" is comma-separated there and a JSON list in cdktf.json. */
export type ValueKind = "string" | "int" | "number" | "boolean" | "json" | "list";

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
  cloudFrontResponseTimeoutQuota: { env: "CHATBOT_CLOUDFRONT_RESPONSE_TIMEOUT_QUOTA", kind: "int" },
  throttlingRateLimit: { env: "CHATBOT_THROTTLING_RATE_LIMIT", kind: "number" },
  throttlingBurstLimit: { env: "CHATBOT_THROTTLING_BURST_LIMIT", kind: "int" },
  dataTrace: { env: "CHATBOT_DATA_TRACE", kind: "boolean" },
  manageApiGatewayAccount: { env: "CHATBOT_MANAGE_API_GATEWAY_ACCOUNT", kind: "boolean" },
  awsAccountId: { env: "CHATBOT_AWS_ACCOUNT_ID", kind: "string" },
  logPrompts: { env: "CHATBOT_LOG_PROMPTS", kind: "boolean" },
  maxTextChars: { env: "CHATBOT_MAX_TEXT_CHARS", kind: "int" },
  maxHistoryTurns: { env: "CHATBOT_MAX_HISTORY_TURNS", kind: "int" },
  maxHistoryChars: { env: "CHATBOT_MAX_HISTORY_CHARS", kind: "int" },
  generation: { env: "CHATBOT_GENERATION", kind: "json" },
  systemPrompt: { env: "CHATBOT_SYSTEM_PROMPT", kind: "string" },
  modelDeploy: { env: "CHATBOT_MODEL_DEPLOY", kind: "boolean" },
  modelId: { env: "CHATBOT_MODEL_ID", kind: "string" },
  modelDataS3Uri: { env: "CHATBOT_MODEL_DATA_S3_URI", kind: "string" },
  modelInstanceType: { env: "CHATBOT_MODEL_INSTANCE_TYPE", kind: "string" },
  modelMinInstances: { env: "CHATBOT_MODEL_MIN_INSTANCES", kind: "int" },
  modelMaxInstances: { env: "CHATBOT_MODEL_MAX_INSTANCES", kind: "int" },
  streaming: { env: "CHATBOT_STREAMING", kind: "boolean" },
  streamFunctionName: { env: "CHATBOT_STREAM_FUNCTION_NAME", kind: "string" },
  streamThrottlingRateLimit: { env: "CHATBOT_STREAM_THROTTLING_RATE_LIMIT", kind: "number" },
  streamThrottlingBurstLimit: { env: "CHATBOT_STREAM_THROTTLING_BURST_LIMIT", kind: "int" },
  maxAnswersPerConnection: { env: "CHATBOT_MAX_ANSWERS_PER_CONNECTION", kind: "int" },
  waf: { env: "CHATBOT_WAF", kind: "boolean" },
  wafRateLimit: { env: "CHATBOT_WAF_RATE_LIMIT", kind: "int" },
  allowedIpRanges: { env: "CHATBOT_ALLOWED_IP_RANGES", kind: "list" },
  allowedCountries: { env: "CHATBOT_ALLOWED_COUNTRIES", kind: "list" },
  cloudFrontOnly: { env: "CHATBOT_CLOUDFRONT_ONLY", kind: "boolean" },
  dailyRequestQuota: { env: "CHATBOT_DAILY_REQUEST_QUOTA", kind: "int" },
  domainName: { env: "CHATBOT_DOMAIN_NAME", kind: "string" },
  hostedZoneId: { env: "CHATBOT_HOSTED_ZONE_ID", kind: "string" },
  certificateArn: { env: "CHATBOT_CERTIFICATE_ARN", kind: "string" },
  alarmEmail: { env: "CHATBOT_ALARM_EMAIL", kind: "string" },
  tracing: { env: "CHATBOT_TRACING", kind: "boolean" },
  budgetMonthlyUsd: { env: "CHATBOT_BUDGET_MONTHLY_USD", kind: "number" },
  backend: { env: "CHATBOT_BACKEND", kind: "string" },
  stateBucket: { env: "CHATBOT_STATE_BUCKET", kind: "string" },
  stateKey: { env: "CHATBOT_STATE_KEY", kind: "string" },
  stateRegion: { env: "CHATBOT_STATE_REGION", kind: "string" },
  tfcOrganization: { env: "CHATBOT_TFC_ORGANIZATION", kind: "string" },
  tfcWorkspace: { env: "CHATBOT_TFC_WORKSPACE", kind: "string" },
  tfcHostname: { env: "CHATBOT_TFC_HOSTNAME", kind: "string" },
  awsEndpointUrl: { env: "CHATBOT_AWS_ENDPOINT_URL", kind: "string" },
  ...SIGN_IN_SETTINGS,
  ...CONVERSATION_SETTINGS,
};

/** Selects which environments to build, e.g. `CHATBOT_ENVIRONMENTS=prod`. */
export const ENVIRONMENTS_ENV = "CHATBOT_ENVIRONMENTS";

export type SettingKey = keyof typeof SETTINGS;
export type RawSettings = Partial<Record<SettingKey, unknown>>;
/** A raw value together with the place it came from, for error messages. */
export type Sourced = Partial<Record<SettingKey, { value: unknown; source: string }>>;

/** Shape of `cdktf.json` → `context.chatbot`. */
export interface ChatbotContext extends RawSettings {
  /** Environment name → its own settings. @default { "dev": {} } */
  readonly environments?: Record<string, RawSettings>;
}
