import { Apigatewayv2Api } from "@cdktf/provider-aws/lib/apigatewayv2-api";
import { Apigatewayv2Integration } from "@cdktf/provider-aws/lib/apigatewayv2-integration";
import { Apigatewayv2Route } from "@cdktf/provider-aws/lib/apigatewayv2-route";
import { Apigatewayv2Stage } from "@cdktf/provider-aws/lib/apigatewayv2-stage";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { LambdaFunctionEventInvokeConfig } from "@cdktf/provider-aws/lib/lambda-function-event-invoke-config";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import { Construct } from "constructs";
import { ChatFunction, ChatSettings } from "./chat-function";
import type { FunctionPackage } from "./function-package";
import { policyDocument } from "./iam";
import { StreamFailureNotice } from "./stream-failure-notice";

/**
 * The WebSocket stage's name, which is also the site's path: CloudFront forwards
 * `wss://<site>/stream` to the API with no origin path, so the viewer's path `/stream`
 * selects the stage `stream`. (A behaviour cannot rewrite a path without a function; a
 * stage named after the path needs none.)
 */
export const STREAM_STAGE = "stream";

/** Options of {@link ChatStream}. */
export interface ChatStreamOptions {
  /** WebSocket API name (environment suffix included), e.g. `api-chatbot-stream-dev`. */
  readonly apiName: string;
  /** Region of the API (for its management endpoint). */
  readonly region: string;
  /** Name of the streaming function (environment suffix included), e.g. `lambda-chat-stream-dev`. */
  readonly functionName: string;
  /** The chat package; the streaming function runs `stream_function.lambda_handler` from it. */
  readonly code: FunctionPackage;
  /** Model, generation and request settings (the same as POST /chat's). */
  readonly settings: ChatSettings;
  /** ARN of the endpoint in `settings`. */
  readonly endpointArn: string;
  /**
   * Browser origins allowed to connect (`https://<domain>`); `$connect` refuses any
   * other with 403, which stops cross-site WebSocket hijacking. May hold Terraform
   * references (the distribution's domain).
   */
  readonly allowedOrigins: readonly string[];
  /** Further environment variables of the function (sign-in). @default none */
  readonly environment?: Readonly<Record<string, string>>;
  /** Further environment variables of its failure notice (sign-in's refund). @default none */
  readonly noticeEnvironment?: Readonly<Record<string, string>>;
  /** Answers one connection may ask for. @default 50 */
  readonly maxAnswersPerConnection?: number;
  /** Steady-state messages per second across the stage. @default 10 */
  readonly throttlingRateLimit?: number;
  /** Burst of messages across the stage. @default 20 */
  readonly throttlingBurstLimit?: number;
  /** Require an API key on `$connect` (the key CloudFront sends). @default false */
  readonly apiKeyRequired?: boolean;
  /** Log full messages (prompts!) in execution logs. @default false */
  readonly dataTrace?: boolean;
  /** Python runtime. @default "python3.13" */
  readonly runtime?: string;
  /** How long one answer may stream, in seconds (the function's timeout). @default 120 */
  readonly timeoutSeconds?: number;
  /** Memory of the function in MB. @default 256 */
  readonly memoryMb?: number;
  /** Retention of the function's and the stage's log groups. @default 1 */
  readonly logRetentionDays?: number;
  /** X-Ray active tracing of the function (X-Ray does not trace WebSocket APIs themselves). @default false */
  readonly tracing?: boolean;
}

/**
 * Answers streamed token by token: an API Gateway WebSocket API (routes `$connect`,
 * `$disconnect`, `chat`, `$default`) in front of the streaming function, which answers a
 * `chat` message by invoking itself asynchronously and posting frames back to the
 * connection through the API's own management endpoint (docs/streaming.md).
 */
export class ChatStream extends Construct {
  public readonly api: Apigatewayv2Api;
  public readonly stage: Apigatewayv2Stage;
  public readonly streamFunction: ChatFunction;
  /** The stream function's on-failure destination: tells the page a queued answer will not come. */
  public readonly failureNotice: StreamFailureNotice;
  /** Answer counts per connection. */
  public readonly connectionsTable: DynamodbTable;
  public readonly executionLogGroup: CloudwatchLogGroup;
  public readonly accessLogGroup: CloudwatchLogGroup;
  /** `<api id>.execute-api.<region>.amazonaws.com`, for a CloudFront origin. */
  public readonly domainName: string;

  constructor(scope: Construct, id: string, options: ChatStreamOptions) {
    super(scope, id);
    const retentionInDays = options.logRetentionDays ?? 1;

    this.api = new Apigatewayv2Api(this, "websocket-api", {
      name: options.apiName,
      description: "Chat answers streamed token by token (docs/streaming.md)",
      protocolType: "WEBSOCKET",
      routeSelectionExpression: "$request.body.action",
      // Where a required API key is read from on $connect (CloudFront adds it).
      apiKeySelectionExpression: "$request.header.x-api-key",
    });
    const apiId = this.api.id;
    this.domainName = `${apiId}.execute-api.${options.region}.amazonaws.com`;

    this.connectionsTable = new DynamodbTable(this, "connections-table", {
      name: `${options.apiName}-connections`,
      billingMode: "PAY_PER_REQUEST",
      hashKey: "connectionId",
      attribute: [{ name: "connectionId", type: "S" }],
      // A connection lives at most 2 hours; the function sets expires_at a little later,
      // so counts of connections that never said goodbye disappear by themselves.
      ttl: { attributeName: "expires_at", enabled: true },
    });

    this.streamFunction = new ChatFunction(this, "stream-function", {
      functionName: options.functionName,
      description: "Chat stream: answers WebSocket messages token by token from the Falcon SageMaker endpoint",
      handler: "stream_function.lambda_handler",
      code: options.code,
      settings: options.settings,
      endpointArn: options.endpointArn,
      // AWS's API reference: InvokeEndpointWithResponseStream is authorized by
      // sagemaker:InvokeEndpoint; the authorization reference also lists its own action.
      modelActions: ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
      environment: {
        // The API's own management endpoint: frames never go through CloudFront.
        CONNECTIONS_ENDPOINT: `https://${this.domainName}/${STREAM_STAGE}`,
        // Plain JSON with Terraform references inside, readable in a plan.
        ALLOWED_ORIGINS: JSON.stringify(options.allowedOrigins),
        CONNECTIONS_TABLE: this.connectionsTable.name,
        MAX_ANSWERS_PER_CONNECTION: String(options.maxAnswersPerConnection ?? 50),
        ...options.environment,
      },
      runtime: options.runtime,
      timeoutSeconds: options.timeoutSeconds,
      memoryMb: options.memoryMb,
      logRetentionDays: retentionInDays,
      tracing: options.tracing,
    });
    const fn = this.streamFunction.function;
    const connectionsArn = `${this.api.executionArn}/${STREAM_STAGE}/POST/@connections/*`;

    const noticeName = `${options.functionName}-failed`;
    if (noticeName.length + "-role".length > 64) {
      throw new Error(`streamFunctionName is too long: "${noticeName}-role" (its failure notice's role) must be at most 64 characters`);
    }
    this.failureNotice = new StreamFailureNotice(this, "failure-notice", {
      functionName: noticeName,
      code: options.code,
      connectionsEndpoint: `https://${this.domainName}/${STREAM_STAGE}`,
      connectionsArn,
      environment: options.noticeEnvironment,
      runtime: options.runtime,
      logRetentionDays: retentionInDays,
    });

    new IamRolePolicy(this, "stream-function-policy", {
      name: "connections-and-self",
      role: this.streamFunction.role.id,
      policy: policyDocument([
        {
          Sid: "PostToOwnConnections",
          Effect: "Allow",
          Action: ["execute-api:ManageConnections"],
          Resource: [connectionsArn],
        },
        {
          Sid: "CountAnswersPerConnection",
          Effect: "Allow",
          Action: ["dynamodb:DeleteItem", "dynamodb:UpdateItem"],
          Resource: [this.connectionsTable.arn],
        },
        {
          // The chat route hands the answer to an asynchronous run of this same function.
          Sid: "InvokeItselfAsynchronously",
          Effect: "Allow",
          Action: ["lambda:InvokeFunction"],
          Resource: [fn.arn],
        },
        {
          // Lambda invokes an on-failure destination with the function's own execution role
          // (AWS: "Adding a destination", invocation-async-retain-records.html).
          Sid: "NotifyFailedRunsDestination",
          Effect: "Allow",
          Action: ["lambda:InvokeFunction"],
          Resource: [this.failureNotice.function.arn],
        },
      ]),
    });
    // A streaming run that failed is not run again: the client would get its frames twice.
    // One that waited a minute in Lambda's queue (throttled: every streamed answer holds one
    // execution for its whole length) is dropped; both go to the failure notice, which
    // tells the waiting page (429 "too busy" or 503) instead of leaving it waiting.
    new LambdaFunctionEventInvokeConfig(this, "async-invoke-config", {
      functionName: fn.functionName,
      maximumRetryAttempts: 0,
      maximumEventAgeInSeconds: 60,
      destinationConfig: { onFailure: { destination: this.failureNotice.function.arn } },
    });

    const integration = new Apigatewayv2Integration(this, "function-integration", {
      apiId,
      integrationType: "AWS_PROXY",
      integrationMethod: "POST",
      integrationUri: fn.invokeArn,
      description: "Every route goes to the streaming function",
    });
    const routes = ["$connect", "$disconnect", "chat", "$default"].map(
      (routeKey) =>
        new Apigatewayv2Route(this, `route-${routeKey.replace("$", "")}`, {
          apiId,
          routeKey,
          target: `integrations/${integration.id}`,
          authorizationType: "NONE",
          // Only the handshake can carry the key; later messages ride the same connection.
          apiKeyRequired: routeKey === "$connect" ? (options.apiKeyRequired ?? false) : undefined,
        }),
    );
    new LambdaPermission(this, "invoke-permission", {
      statementId: "AllowWebSocketRoutes",
      action: "lambda:InvokeFunction",
      functionName: fn.functionName,
      principal: "apigateway.amazonaws.com",
      sourceArn: `${this.api.executionArn}/${STREAM_STAGE}/*`,
    });

    // Created by us so their retention applies; API Gateway would otherwise create
    // them on first use with logs kept forever.
    this.executionLogGroup = new CloudwatchLogGroup(this, "execution-log-group", {
      name: `/aws/apigateway/${apiId}/${STREAM_STAGE}`,
      retentionInDays,
    });
    this.accessLogGroup = new CloudwatchLogGroup(this, "access-log-group", {
      name: `/aws/apigateway/${options.apiName}/access`,
      retentionInDays,
    });

    this.stage = new Apigatewayv2Stage(this, "stage", {
      apiId,
      name: STREAM_STAGE,
      description: "WebSocket stage behind https://<site>/stream",
      // Deploys every route change by itself (no deployment resource to keep in step).
      autoDeploy: true,
      defaultRouteSettings: {
        loggingLevel: "INFO",
        dataTraceEnabled: options.dataTrace ?? false,
        detailedMetricsEnabled: true,
        throttlingRateLimit: options.throttlingRateLimit ?? 10,
        throttlingBurstLimit: options.throttlingBurstLimit ?? 20,
      },
      accessLogSettings: {
        destinationArn: this.accessLogGroup.arn,
        format: JSON.stringify({
          requestId: "$context.requestId",
          connectionId: "$context.connectionId",
          eventType: "$context.eventType",
          routeKey: "$context.routeKey",
          status: "$context.status",
          ip: "$context.identity.sourceIp",
          requestTime: "$context.requestTime",
          integrationLatency: "$context.integrationLatency",
          errorMessage: "$context.error.message",
        }),
      },
      // The routes exist before the first automatic deployment; logging can be written.
      dependsOn: [...routes, this.executionLogGroup],
    });
  }
}
