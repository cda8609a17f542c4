import { DataArchiveFile } from "@cdktf/provider-archive/lib/data-archive-file";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { Construct } from "constructs";
import type { GenerationParameters } from "./config";
import { policyDocument, servicePrincipalTrust } from "./iam";
import { StagedDirectory } from "./staged-directory";

/** Options of {@link ChatFunction}. */
export interface ChatFunctionOptions {
  /** Full function name (environment suffix included), e.g. `lambda-chat-api-dev`. */
  readonly functionName: string;
  /** Directory holding `lambda_function.py`. */
  readonly sourceDir: string;
  /** SageMaker endpoint the function may invoke (env `endpoint`). */
  readonly endpointName: string;
  /** ARN of that endpoint; the function's role may invoke nothing else. */
  readonly endpointArn: string;
  /** Python runtime. @default "python3.13" */
  readonly runtime?: string;
  /** Seconds before Lambda stops the function. @default 120 */
  readonly timeoutSeconds?: number;
  /** Memory in MB. @default 256 */
  readonly memoryMb?: number;
  /** Retention of `/aws/lambda/<name>`. @default 1 */
  readonly logRetentionDays?: number;
  /** Generation parameters passed as environment variables. */
  readonly generation: GenerationParameters;
  /** Request limits, re-checked by the function after trimming. */
  readonly maxTextChars: number;
  readonly maxHistoryTurns: number;
  readonly maxHistoryChars: number;
  /** Read timeout of the SageMaker call; keep it below the API Gateway integration timeout. */
  readonly modelReadTimeoutSeconds: number;
  /** The model's token limits (TGI MAX_INPUT_LENGTH and MAX_TOTAL_TOKENS); the function trims history to fit them. */
  readonly modelTokenLimits: { readonly maxInputTokens: number; readonly maxTotalTokens: number };
  /** Log prompt and answer text. @default false */
  readonly logPrompts?: boolean;
}

/**
 * Files of the function directory that never go into the deployment package:
 * tests, caches and development files.
 */
export function isExcludedFromPackage(relativePath: string): boolean {
  const parts = relativePath.split("/");
  const name = parts[parts.length - 1];
  return (
    parts.some((p) => p === "tests" || p === "__pycache__" || p.startsWith(".")) ||
    name.endsWith(".pyc") ||
    name.endsWith(".md") ||
    name === "conftest.py" ||
    name.startsWith("requirements") ||
    name === "pytest.ini"
  );
}

/**
 * The Python chat function: its deployment package, log group and least-privilege role.
 */
export class ChatFunction extends Construct {
  public readonly function: LambdaFunction;
  public readonly role: IamRole;
  public readonly logGroup: CloudwatchLogGroup;
  /** Files that went into the package (relative paths), for tests and review. */
  public readonly packagedFiles: readonly string[];

  constructor(scope: Construct, id: string, options: ChatFunctionOptions) {
    super(scope, id);
    const name = options.functionName;

    const source = new StagedDirectory(this, "source", {
      sourceDir: options.sourceDir,
      exclude: isExcludedFromPackage,
    });
    this.packagedFiles = source.files;
    if (!source.files.includes("lambda_function.py")) {
      throw new Error(`${options.sourceDir} has no lambda_function.py (the handler is lambda_function.lambda_handler)`);
    }

    const archive = new DataArchiveFile(this, "package", {
      type: "zip",
      sourceDir: source.path,
      outputPath: `${source.path}.zip`,
      // Without a pinned mode the zip records the checkout's umask, and its hash
      // (and so the plan) would differ from machine to machine.
      outputFileMode: "0644",
    });

    // Created explicitly, before the function, so retention applies from the first
    // log line and `terraform destroy` removes it.
    this.logGroup = new CloudwatchLogGroup(this, "log-group", {
      name: `/aws/lambda/${name}`,
      retentionInDays: options.logRetentionDays ?? 1,
    });

    this.role = new IamRole(this, "role", {
      name: `${name}-role`,
      description: `Execution role of ${name}: its own log group and one SageMaker endpoint`,
      assumeRolePolicy: servicePrincipalTrust("lambda.amazonaws.com"),
    });
    new IamRolePolicy(this, "role-policy", {
      name: "logs-and-model",
      role: this.role.id,
      policy: policyDocument([
        {
          Sid: "WriteOwnLogs",
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: [`${this.logGroup.arn}:*`],
        },
        {
          Sid: "InvokeTheModel",
          Effect: "Allow",
          Action: ["sagemaker:InvokeEndpoint"],
          Resource: [options.endpointArn],
        },
      ]),
    });

    const g = options.generation;
    this.function = new LambdaFunction(this, "function", {
      functionName: name,
      description: "Chat API: validates the request and calls the Falcon SageMaker endpoint",
      role: this.role.arn,
      runtime: options.runtime ?? "python3.13",
      handler: "lambda_function.lambda_handler",
      filename: archive.outputPath,
      sourceCodeHash: archive.outputBase64Sha256,
      timeout: options.timeoutSeconds ?? 120,
      memorySize: options.memoryMb ?? 256,
      architectures: ["arm64"],
      loggingConfig: {
        logFormat: "JSON",
        logGroup: this.logGroup.name,
        applicationLogLevel: "INFO",
        systemLogLevel: "WARN",
      },
      environment: {
        variables: {
          endpoint: options.endpointName,
          MAX_NEW_TOKENS: String(g.maxNewTokens),
          DO_SAMPLE: String(g.doSample),
          TEMPERATURE: String(g.temperature),
          REPETITION_PENALTY: String(g.repetitionPenalty),
          TOP_P: String(g.topP),
          TOP_K: String(g.topK),
          STOP_SEQUENCES: JSON.stringify(g.stop),
          MAX_TEXT_CHARS: String(options.maxTextChars),
          MAX_HISTORY_TURNS: String(options.maxHistoryTurns),
          MAX_HISTORY_CHARS: String(options.maxHistoryChars),
          MODEL_READ_TIMEOUT_SECONDS: String(options.modelReadTimeoutSeconds),
          MODEL_MAX_INPUT_TOKENS: String(options.modelTokenLimits.maxInputTokens),
          MODEL_MAX_TOTAL_TOKENS: String(options.modelTokenLimits.maxTotalTokens),
          LOG_PROMPTS: String(options.logPrompts ?? false),
        },
      },
      dependsOn: [this.logGroup],
    });
  }
}
