import type { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import type { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import type { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { Construct } from "constructs";
import type { GenerationParameters } from "./config";
import type { PayloadStyle, TokenizerFamily } from "./model/catalogue";
import type { FunctionPackage } from "./function-package";
import { pythonFunction } from "./python-function";

/** What every chat function is told about the model and the requests it accepts (environment variables). */
export interface ChatSettings {
  /** SageMaker endpoint the function calls (env `endpoint`). */
  readonly endpointName: string;
  /** Generation parameters. */
  readonly generation: GenerationParameters;
  /** Request limits, re-checked by the function after trimming. */
  readonly maxTextChars: number;
  readonly maxHistoryTurns: number;
  readonly maxHistoryChars: number;
  /** Read timeout of the SageMaker call; keep it below the API Gateway integration timeout. */
  readonly modelReadTimeoutSeconds: number;
  /** The model's token limits (TGI MAX_INPUT_LENGTH and MAX_TOTAL_TOKENS); the function trims history to fit them. */
  readonly modelTokenLimits: { readonly maxInputTokens: number; readonly maxTotalTokens: number };
  /** How the function talks to the model (env `PAYLOAD_STYLE`). */
  readonly payloadStyle: PayloadStyle;
  /** Calibration of the function's token estimate (env `MODEL_TOKENIZER`). */
  readonly tokenizer: TokenizerFamily;
  /** The system turn, or the prompt's opening line (env `SYSTEM_PROMPT`); "" for none. */
  readonly systemPrompt: string;
  /** Log prompt and answer text. @default false */
  readonly logPrompts?: boolean;
}

/** Options of {@link ChatFunction}. */
export interface ChatFunctionOptions {
  /** Full function name (environment suffix included), e.g. `lambda-chat-api-dev`. */
  readonly functionName: string;
  /** What the function is for, shown in the console. @default the REST chat function's description */
  readonly description?: string;
  /** `module.function` of the handler. @default "lambda_function.lambda_handler" */
  readonly handler?: string;
  /** The deployment package. */
  readonly code: FunctionPackage;
  /** Model, generation and request settings. */
  readonly settings: ChatSettings;
  /** ARN of the endpoint in `settings`; the function's role may call nothing else. */
  readonly endpointArn: string;
  /** SageMaker actions allowed on that endpoint. @default ["sagemaker:InvokeEndpoint"] */
  readonly modelActions?: readonly string[];
  /** Further environment variables of this function. @default none */
  readonly environment?: Readonly<Record<string, string>>;
  /** Python runtime. @default "python3.13" */
  readonly runtime?: string;
  /** Seconds before Lambda stops the function. @default 120 */
  readonly timeoutSeconds?: number;
  /** Memory in MB. @default 256 */
  readonly memoryMb?: number;
  /** Retention of `/aws/lambda/<name>`. @default 1 */
  readonly logRetentionDays?: number;
  /** X-Ray active tracing. @default false */
  readonly tracing?: boolean;
}

const REST_DESCRIPTION = "Chat API: validates the request and calls the Falcon SageMaker endpoint";

/** The environment variables every chat function reads (see docs/lambda.md). */
export function chatEnvironment(s: ChatSettings): Record<string, string> {
  const g = s.generation;
  // Only what the payload style can send: the Messages API has no top_k, and a
  // repetition penalty goes there only when the configuration sets one.
  const optional: Record<string, string> = {};
  if (g.repetitionPenalty !== undefined) optional.REPETITION_PENALTY = String(g.repetitionPenalty);
  if (g.topK !== undefined && s.payloadStyle === "inputs") optional.TOP_K = String(g.topK);
  return {
    endpoint: s.endpointName,
    PAYLOAD_STYLE: s.payloadStyle,
    MODEL_TOKENIZER: s.tokenizer,
    SYSTEM_PROMPT: s.systemPrompt,
    MAX_NEW_TOKENS: String(g.maxNewTokens),
    DO_SAMPLE: String(g.doSample),
    TEMPERATURE: String(g.temperature),
    ...optional,
    TOP_P: String(g.topP),
    STOP_SEQUENCES: JSON.stringify(g.stop),
    MAX_TEXT_CHARS: String(s.maxTextChars),
    MAX_HISTORY_TURNS: String(s.maxHistoryTurns),
    MAX_HISTORY_CHARS: String(s.maxHistoryChars),
    MODEL_READ_TIMEOUT_SECONDS: String(s.modelReadTimeoutSeconds),
    MODEL_MAX_INPUT_TOKENS: String(s.modelTokenLimits.maxInputTokens),
    MODEL_MAX_TOTAL_TOKENS: String(s.modelTokenLimits.maxTotalTokens),
    LOG_PROMPTS: String(s.logPrompts ?? false),
  };
}

/**
 * A Python function of the chat package: its log group, its least-privilege role (its own
 * logs and one SageMaker endpoint) and the function itself.
 */
export class ChatFunction extends Construct {
  public readonly function: LambdaFunction;
  public readonly role: IamRole;
  public readonly logGroup: CloudwatchLogGroup;

  constructor(scope: Construct, id: string, options: ChatFunctionOptions) {
    super(scope, id);
    ({ function: this.function, role: this.role, logGroup: this.logGroup } = pythonFunction(this, {
      functionName: options.functionName,
      description: options.description ?? REST_DESCRIPTION,
      handler: options.handler ?? "lambda_function.lambda_handler",
      code: options.code,
      roleScope: "one SageMaker endpoint",
      policyName: "logs-and-model",
      statements: [{ Sid: "InvokeTheModel", Effect: "Allow", Action: options.modelActions ?? ["sagemaker:InvokeEndpoint"], Resource: [options.endpointArn] }],
      environment: { ...chatEnvironment(options.settings), ...options.environment },
      runtime: options.runtime,
      timeoutSeconds: options.timeoutSeconds ?? 120,
      memoryMb: options.memoryMb ?? 256,
      logRetentionDays: options.logRetentionDays,
      tracing: options.tracing,
    }));
  }
}
