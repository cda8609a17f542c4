import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import type { Construct } from "constructs";
import type { FunctionPackage } from "./function-package";
import { PolicyStatement, policyDocument, servicePrincipalTrust } from "./iam";

/** Options of {@link pythonFunction}. */
export interface PythonFunctionOptions {
  /** Full function name (environment suffix included); its role is `<name>-role`, its log group `/aws/lambda/<name>`. */
  readonly functionName: string;
  /** What the function is for, shown in the console. */
  readonly description: string;
  /** `module.function` of the handler. */
  readonly handler: string;
  /** The deployment package. */
  readonly code: FunctionPackage;
  /** What the role may do besides writing the function's own log, e.g. "one SageMaker endpoint" (its description). */
  readonly roleScope: string;
  /** Name of the role's inline policy. */
  readonly policyName: string;
  /** The role's statements besides writing its own log. @default none */
  readonly statements?: readonly PolicyStatement[];
  /** Environment variables. @default none */
  readonly environment?: Readonly<Record<string, string>>;
  /** Python runtime. @default "python3.13" */
  readonly runtime?: string;
  /** Seconds before Lambda stops the function. */
  readonly timeoutSeconds: number;
  /** Memory in MB. */
  readonly memoryMb: number;
  /** Retention of its log group. @default 1 */
  readonly logRetentionDays?: number;
  /** X-Ray active tracing (and the role's two X-Ray actions). @default false */
  readonly tracing?: boolean;
}

/** The parts {@link pythonFunction} creates. */
export interface PythonFunctionParts {
  readonly function: LambdaFunction;
  readonly role: IamRole;
  readonly logGroup: CloudwatchLogGroup;
}

/**
 * One Python function of the chat package as every function here is built: its own log
 * group, created first; a role that may write only that log group plus `statements`; arm64,
 * JSON logs. Creates `log-group`, `role`, `role-policy` and `function` directly in `scope`
 * (the ids the functions had before this helper, so their Terraform addresses stay).
 */
export function pythonFunction(scope: Construct, o: PythonFunctionOptions): PythonFunctionParts {
  const name = o.functionName;
  // Created explicitly, before the function, so retention applies from the first
  // log line and `terraform destroy` removes it.
  const logGroup = new CloudwatchLogGroup(scope, "log-group", { name: `/aws/lambda/${name}`, retentionInDays: o.logRetentionDays ?? 1 });
  const role = new IamRole(scope, "role", {
    name: `${name}-role`,
    description: `Execution role of ${name}: its own log group and ${o.roleScope}`,
    assumeRolePolicy: servicePrincipalTrust("lambda.amazonaws.com"),
  });
  const statements: PolicyStatement[] = [
    { Sid: "WriteOwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [`${logGroup.arn}:*`] },
    ...(o.statements ?? []),
  ];
  if (o.tracing) {
    // The two calls Lambda's X-Ray integration makes; X-Ray has no resources to scope them to.
    statements.push({ Sid: "SendTraces", Effect: "Allow", Action: ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], Resource: ["*"] });
  }
  new IamRolePolicy(scope, "role-policy", { name: o.policyName, role: role.id, policy: policyDocument(statements) });
  const fn = new LambdaFunction(scope, "function", {
    functionName: name,
    description: o.description,
    role: role.arn,
    runtime: o.runtime ?? "python3.13",
    handler: o.handler,
    filename: o.code.zipPath,
    sourceCodeHash: o.code.zipHash,
    timeout: o.timeoutSeconds,
    memorySize: o.memoryMb,
    architectures: ["arm64"],
    loggingConfig: { logFormat: "JSON", logGroup: logGroup.name, applicationLogLevel: "INFO", systemLogLevel: "WARN" },
    environment: o.environment ? { variables: { ...o.environment } } : undefined,
    tracingConfig: o.tracing ? { mode: "Active" } : undefined,
    dependsOn: [logGroup],
  });
  return { function: fn, role, logGroup };
}
