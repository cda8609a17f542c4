/**
 * The shape of the chatbot's configuration: every setting of one environment, with its
 * meaning and default, and the built-in defaults themselves.
 */
import type { ConversationConfig } from "./conversation-settings";
import { SIGN_IN_DEFAULTS, SignInConfig } from "./signin-settings";

/**
 * Text-generation parameters sent to the Hugging Face TGI container with every prompt.
 * Defaults depend on the model's payload style (`inputs`: the seed's; `messages`: see
 * {@link DEFAULT_MESSAGES_GENERATION}); on the Messages API `doSample: false` is sent as
 * `temperature: 0` (TGI decodes greedily only then) and `repetitionPenalty` as TGI's
 * `presence_penalty` (r - 2); `topK` has no equivalent there.
 */
export interface GenerationParameters {
  /** @default 512 (`inputs`), 1024 (`messages`) */
  readonly maxNewTokens: number;
  /** @default false */
  readonly doSample: boolean;
  /** Used when sampling; TGI rejects 0. @default 0.5 (`inputs`), 0.7 (`messages`) */
  readonly temperature: number;
  /** @default 1.03 (`inputs`), not sent (`messages`) */
  readonly repetitionPenalty?: number;
  /** Strictly between 0 and 1 (TGI rule). @default 0.9 */
  readonly topP: number;
  /** @default 1 (`inputs`), not available (`messages`) */
  readonly topK?: number;
  /** Generation stops at any of these. @default ["<|endoftext|>", "</s>"] (`inputs`), [] (`messages`: the chat template's end token stops it) */
  readonly stop: readonly string[];
}

/** Where an environment keeps its Terraform state. */
export type BackendKind = "local" | "s3" | "cloud";

/** Every setting of one environment, after defaults and overrides are applied. */
export interface EnvironmentConfig extends SignInConfig, ConversationConfig {
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
  /**
   * CloudFront's "Response timeout per origin" quota of the account, in seconds: the `/chat`
   * origin waits one second past the integration timeout, which must fit in it. Raise it only
   * after AWS granted the increase. @default 60 (CloudFront's default)
   */
  readonly cloudFrontResponseTimeoutQuota: number;
  /** Steady-state requests per second for the stage. @default 10 */
  readonly throttlingRateLimit: number;
  /** Burst requests for the stage. @default 20 */
  readonly throttlingBurstLimit: number;
  /** API Gateway data trace (logs full request and response bodies, i.e. prompts). @default true only when the stage is "dev" */
  readonly dataTrace: boolean;
  /**
   * The account's API Gateway CloudWatch role (which INFO logging needs) comes from the shared
   * account stack `chatbot-account-[<awsAccountId>-]<region>`, which this environment's stack
   * depends on. Off: the setting is managed elsewhere. @default true
   */
  readonly manageApiGatewayAccount: boolean;
  /**
   * The 12-digit AWS account this environment deploys to: every AWS provider of its stacks
   * refuses other credentials (`allowed_account_ids`), and it tells accounts apart for the
   * account stack. @default none: any account; environments in one region count as one account
   */
  readonly awsAccountId?: string;
  /** Lambda logs prompt and answer text (debug only). @default false */
  readonly logPrompts: boolean;
  /** Longest `text` accepted, in characters after trimming. @default 4000 */
  readonly maxTextChars: number;
  /** Most `history` turns accepted. @default the model's: 10 for the 2023 Falcons, 40 for Falcon 3 (32K) */
  readonly maxHistoryTurns: number;
  /** Most characters over all `history` contents. @default the model's: 8000 for the 2023 Falcons, 24000 for Falcon 3 (32K) */
  readonly maxHistoryChars: number;
  /** Generation parameters. @default per payload style: the original sample's for `inputs` */
  readonly generation: GenerationParameters;
  /**
   * Instruction sent before every conversation: the system turn (`messages`), or the opening
   * line of the prompt (`inputs`). Empty: none. At most 1000 characters (the functions'
   * environment variables share Lambda's 4 KB), and it counts against the token budget.
   * @default {@link DEFAULT_SYSTEM_PROMPT}
   */
  readonly systemPrompt: string;
  /**
   * Create the model endpoint with the stack (SageMaker model, endpoint configuration,
   * endpoint, autoscaling). Off: the chat functions call the existing `endpointName`.
   * @default false
   */
  readonly modelDeploy: boolean;
  /**
   * The catalogue model the endpoint serves (stacks/model/catalogue.ts): deployed with
   * `modelDeploy`, else the one behind `endpointName`. Its token limits bound the prompts the
   * functions send, and its payload style says how they talk to it.
   * @default "tiiuae/Falcon3-7B-Instruct" with `modelDeploy`, else "huggingface-llm-falcon-7b-instruct-bf16" (the seed's endpoint)
   */
  readonly modelId: string;
  /**
   * With `modelDeploy` and a Hugging Face Hub model: an uncompressed S3 prefix
   * (`s3://bucket/prefix/`) holding the model's files. The endpoint then runs with network
   * isolation and its role reads only that prefix.
   * @default none: the container downloads the weights from the Hub (network isolation off)
   */
  readonly modelDataS3Uri?: string;
  /** Instance type of the deployed model. @default the model's default (ml.g5.2xlarge for 7B, ml.g5.12xlarge for 40B) */
  readonly modelInstanceType: string;
  /** Fewest instances of the deployed model; at least 1 (a real-time endpoint cannot scale to zero). @default 1 */
  readonly modelMinInstances: number;
  /** Most instances autoscaling may run. @default 2 */
  readonly modelMaxInstances: number;
  /** Stream answers token by token over a WebSocket API at `wss://<site>/stream`; off: the page uses POST /chat only. @default true */
  readonly streaming: boolean;
  /** Streaming function name before the `-<environment>` suffix. @default "lambda-chat-stream" */
  readonly streamFunctionName: string;
  /** Steady-state WebSocket messages per second across the stage. @default 10 */
  readonly streamThrottlingRateLimit: number;
  /** Burst of WebSocket messages across the stage. @default 20 */
  readonly streamThrottlingBurstLimit: number;
  /** Answers one WebSocket connection may ask for (WAF and API keys see only its handshake). @default 50 */
  readonly maxAnswersPerConnection: number;
  /** A WAF web ACL in front of CloudFront: per-IP rate limit on the chat paths, AWS managed rules, allow-lists. @default true */
  readonly waf: boolean;
  /** Chat requests (`/chat` and `/stream` handshakes) one IP may send per 5 minutes before WAF answers 429. @default 100 */
  readonly wafRateLimit: number;
  /** With the WAF: only these CIDRs (IPv4 and IPv6) may use the site; others get 403. @default [] (everyone) */
  readonly allowedIpRanges: readonly string[];
  /** With the WAF: only these countries (ISO 3166 alpha-2) may use the site; others get 403. @default [] (everyone) */
  readonly allowedCountries: readonly string[];
  /** The APIs answer only requests that came through this distribution (an API key CloudFront adds). @default true */
  readonly cloudFrontOnly: boolean;
  /** With `cloudFrontOnly`: requests per day over all clients (WebSocket: connections); 0 turns the quota off. @default 10000 */
  readonly dailyRequestQuota: number;
  /** Custom domain of the site (needs `hostedZoneId` or `certificateArn`). @default none: the CloudFront domain */
  readonly domainName?: string;
  /** Route 53 zone of `domainName`: the stack requests and validates a certificate and adds A/AAAA alias records. */
  readonly hostedZoneId?: string;
  /** An existing ACM certificate for `domainName`, in us-east-1 (CloudFront's region). */
  readonly certificateArn?: string;
  /** E-mail address that receives alarms (and budget notifications); AWS asks it to confirm first. @default none: alarms go to the SNS topics only */
  readonly alarmEmail?: string;
  /** X-Ray active tracing of the functions and the REST stage (X-Ray does not trace WebSocket APIs). @default false */
  readonly tracing: boolean;
  /** Monthly cost budget in USD with actual and forecasted notifications. @default none: no budget */
  readonly budgetMonthlyUsd?: number;
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

/** One account and region's shared settings: the account stack, and where its state lives. */
export interface AccountConfig {
  /** Stack name, e.g. `chatbot-account-ap-northeast-2`. */
  readonly stackName: string;
  readonly region: string;
  /** The account, when the environments name it (also the providers' `allowed_account_ids`). */
  readonly awsAccountId?: string;
  /** Environments whose logging relies on this stack (every configured one, selected or not). */
  readonly environments: readonly string[];
  readonly backend: BackendKind;
  readonly stateBucket?: string;
  /** @default "chatbot/<stack name>/terraform.tfstate" */
  readonly stateKey: string;
  readonly stateRegion: string;
  readonly tfcOrganization?: string;
  /** Terraform Cloud workspace: the stack name. */
  readonly tfcWorkspace?: string;
  readonly tfcHostname: string;
  /** Test only: the emulator, as for the environments. */
  readonly awsEndpointUrl?: string;
}

/** The whole application's configuration: one entry per environment, one stack each, and the account stacks they share. */
export interface ChatbotConfig {
  readonly environments: readonly EnvironmentConfig[];
  readonly accounts: readonly AccountConfig[];
}

/** The seed's generation parameters: the defaults of the `inputs` payload style. */
export const DEFAULT_GENERATION: GenerationParameters = {
  maxNewTokens: 512,
  doSample: false,
  temperature: 0.5,
  repetitionPenalty: 1.03,
  topP: 0.9,
  topK: 1,
  stop: ["<|endoftext|>", "</s>"],
};

/**
 * Defaults of the `messages` payload style (Falcon 3): greedy, as the seed, and room for a
 * longer answer in a 32K window; no stop list (the chat template ends answers with its end token).
 */
export const DEFAULT_MESSAGES_GENERATION: GenerationParameters = {
  maxNewTokens: 1024,
  doSample: false,
  temperature: 0.7,
  topP: 0.9,
  stop: [],
};

/** A short instruction: be helpful, and answer in the user's language. */
export const DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer in the language of the user's question.";

type Derived =
  | "name" | "stage" | "dataTrace" | "stateKey" | "stateRegion" | "modelInstanceType" | "modelId" | "generation"
  | "maxHistoryTurns" | "maxHistoryChars" | "signInDomainPrefix" | "conversations";

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
  cloudFrontResponseTimeoutQuota: 60,
  throttlingRateLimit: 10,
  throttlingBurstLimit: 20,
  manageApiGatewayAccount: true,
  logPrompts: false,
  maxTextChars: 4000,
  systemPrompt: DEFAULT_SYSTEM_PROMPT,
  modelDeploy: false,
  modelMinInstances: 1,
  modelMaxInstances: 2,
  streaming: true,
  streamFunctionName: "lambda-chat-stream",
  streamThrottlingRateLimit: 10,
  streamThrottlingBurstLimit: 20,
  maxAnswersPerConnection: 50,
  waf: true,
  wafRateLimit: 100,
  allowedIpRanges: [],
  allowedCountries: [],
  cloudFrontOnly: true,
  dailyRequestQuota: 10_000,
  tracing: false,
  backend: "local",
  tfcHostname: "app.terraform.io",
  ...SIGN_IN_DEFAULTS,
  conversationRetentionDays: 0,
};

/** The environment built when none is configured. */
export const DEFAULT_ENVIRONMENT = "dev";
