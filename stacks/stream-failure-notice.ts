import type { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import type { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import type { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaFunctionEventInvokeConfig } from "@cdktf/provider-aws/lib/lambda-function-event-invoke-config";
import { Construct } from "constructs";
import type { FunctionPackage } from "./function-package";
import { pythonFunction } from "./python-function";

/** Options of {@link StreamFailureNotice}. */
export interface StreamFailureNoticeOptions {
  /** Function name, e.g. `lambda-chat-stream-dev-failed`. */
  readonly functionName: string;
  /** The chat package; the function runs `stream_failures.notice.lambda_handler` from it. */
  readonly code: FunctionPackage;
  /** The WebSocket API's management endpoint, `https://<api-id>.execute-api.<region>.amazonaws.com/<stage>`. */
  readonly connectionsEndpoint: string;
  /** `execute-api:ManageConnections` resource of the stage's connections, `<execution arn>/<stage>/POST/@connections/*`. */
  readonly connectionsArn: string;
  /** Further environment variables (sign-in's USAGE_TABLE, to refund a dropped answer). @default none */
  readonly environment?: Readonly<Record<string, string>>;
  /** Python runtime. @default "python3.13" */
  readonly runtime?: string;
  /** Retention of its log group. @default 1 */
  readonly logRetentionDays?: number;
}

/**
 * The stream function's on-failure destination. Lambda drops an asynchronous run it could
 * not start within `maximum_event_age_in_seconds` (throttled: the account's concurrency is
 * used up) or that failed, and then invokes this function with its invocation record
 * (lambda-chat/stream_failures/notice.py), which posts the waiting connection an `error`
 * frame instead of leaving the page waiting for nothing. A function of its own, so its
 * role can do only that: post to this API's connections and write its own log.
 */
export class StreamFailureNotice extends Construct {
  public readonly function: LambdaFunction;
  public readonly role: IamRole;
  public readonly logGroup: CloudwatchLogGroup;

  constructor(scope: Construct, id: string, options: StreamFailureNoticeOptions) {
    super(scope, id);
    ({ function: this.function, role: this.role, logGroup: this.logGroup } = pythonFunction(this, {
      functionName: options.functionName,
      description: "Chat stream: tells the waiting page when Lambda gave up on a streamed answer",
      handler: "stream_failures.notice.lambda_handler",
      code: options.code,
      roleScope: "posting to the stream's connections",
      policyName: "logs-and-connections",
      statements: [{ Sid: "PostToOwnConnections", Effect: "Allow", Action: ["execute-api:ManageConnections"], Resource: [options.connectionsArn] }],
      environment: { CONNECTIONS_ENDPOINT: options.connectionsEndpoint, ...options.environment },
      runtime: options.runtime,
      // One post with a few retries (frames.py): seconds at most.
      timeoutSeconds: 15,
      memoryMb: 128,
      logRetentionDays: options.logRetentionDays,
    }));
    // Lambda invokes a destination function asynchronously too. A notice that cannot run
    // within 5 minutes (the account is still saturated) is no use to a page that waits
    // about 90 s; dropping it beats Lambda's default of keeping it 6 hours.
    new LambdaFunctionEventInvokeConfig(this, "async-invoke-config", {
      functionName: this.function.functionName,
      maximumRetryAttempts: 2,
      maximumEventAgeInSeconds: 300,
    });
  }
}
