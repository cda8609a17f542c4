import { ApiGatewayAuthorizer } from "@cdktf/provider-aws/lib/api-gateway-authorizer";
import type { ApiGatewayIntegration } from "@cdktf/provider-aws/lib/api-gateway-integration";
import { ApiGatewayDeployment } from "@cdktf/provider-aws/lib/api-gateway-deployment";
import { ApiGatewayGatewayResponse } from "@cdktf/provider-aws/lib/api-gateway-gateway-response";
import { ApiGatewayMethodSettings } from "@cdktf/provider-aws/lib/api-gateway-method-settings";
import { ApiGatewayModel } from "@cdktf/provider-aws/lib/api-gateway-model";
import { ApiGatewayRequestValidator } from "@cdktf/provider-aws/lib/api-gateway-request-validator";
import { ApiGatewayResource } from "@cdktf/provider-aws/lib/api-gateway-resource";
import { ApiGatewayRestApi } from "@cdktf/provider-aws/lib/api-gateway-rest-api";
import { ApiGatewayStage } from "@cdktf/provider-aws/lib/api-gateway-stage";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import { Fn, ITerraformDependable, Lazy, TerraformResource, dependable } from "cdktf";
import { Construct } from "constructs";
import {
  ChatRequestLimits,
  ERROR_SCHEMA,
  GATEWAY_ERRORS,
  REPLY_SCHEMA,
  TICKET_SCHEMA,
  chatRequestSchema,
  gatewayResponseTemplate,
} from "./chat-contract";
import { configurationHash } from "./configuration-hash";
import { policyDocument, servicePrincipalTrust } from "./iam";
import { CHAT_TEMPLATE, TICKET_TEMPLATE, lambdaMethod } from "./rest-lambda-method";

/** Options of {@link ChatApi}. */
export interface ChatApiOptions {
  /** Region the API is deployed in. */
  readonly region: string;
  /** REST API name (environment suffix included), e.g. `api-chatbot-dev`. */
  readonly apiName: string;
  /** Name of the role API Gateway uses to invoke the function, e.g. `api-role-chatbot-dev`. */
  readonly credentialsRoleName: string;
  /** Stage name. @default "dev" */
  readonly stageName?: string;
  /** The function behind `POST /chat`. */
  readonly chatFunction: LambdaFunction;
  /** Request limits for the body's JSON schema. */
  readonly limits: ChatRequestLimits;
  /** Integration timeout in ms (API Gateway: 50–29000 unless the quota was raised). @default 29000 */
  readonly integrationTimeoutMs?: number;
  /** Stage-wide steady-state request rate. @default 10 */
  readonly throttlingRateLimit?: number;
  /** Stage-wide burst. @default 20 */
  readonly throttlingBurstLimit?: number;
  /** Log full request and response bodies (prompts!) in execution logs. @default false */
  readonly dataTrace?: boolean;
  /** Retention of the execution and access log groups. @default 1 */
  readonly logRetentionDays?: number;
  /** X-Ray tracing of the stage. @default false */
  readonly tracing?: boolean;
  /** POST /chat requires an API key (the one CloudFront sends). @default false */
  readonly apiKeyRequired?: boolean;
  /**
   * Sign-in: every method needs a valid ID token of this Cognito user pool (API Gateway
   * answers 401 without one), the function learns the caller from the token's claims, and
   * `POST /chat/ticket` mints WebSocket tickets. @default none: the open API
   */
  readonly userPoolArn?: string;
  /** With `userPoolArn`: `POST /chat/ticket` for the WebSocket's `$connect`. @default true */
  readonly ticketRoute?: boolean;
}

/**
 * The REST API in front of the chat function: `POST /chat` with request
 * validation, the error contract, logging, throttling and a stage.
 */
export class ChatApi extends Construct {
  public readonly restApi: ApiGatewayRestApi;
  public readonly stage: ApiGatewayStage;
  /** The Cognito authorizer, with `userPoolArn`: other routes of this API use it too. */
  public readonly authorizer?: ApiGatewayAuthorizer;
  public readonly credentialsRole: IamRole;
  public readonly executionLogGroup: CloudwatchLogGroup;
  public readonly accessLogGroup: CloudwatchLogGroup;
  /** `<api id>.execute-api.<region>.amazonaws.com`, for a CloudFront origin. */
  public readonly domainName: string;
  /** `https://<domain>/<stage>/chat`. */
  public readonly chatUrl: string;
  /** What the deployment snapshots: a change to any of them redeploys the stage. */
  private readonly redeployOn: TerraformResource[];
  private readonly deployment: ApiGatewayDeployment;

  constructor(scope: Construct, id: string, options: ChatApiOptions) {
    super(scope, id);
    const stageName = options.stageName ?? "dev";
    const retentionInDays = options.logRetentionDays ?? 1;
    const fn = options.chatFunction;

    this.restApi = new ApiGatewayRestApi(this, "rest-api", {
      name: options.apiName,
      description: "API Gateway for chatbot",
      endpointConfiguration: { types: ["REGIONAL"] },
    });
    const apiId = this.restApi.id;

    // The only thing this role may do is invoke this one function.
    this.credentialsRole = new IamRole(this, "credentials-role", {
      name: options.credentialsRoleName,
      description: `Lets API Gateway ${options.apiName} invoke its chat function, nothing else`,
      assumeRolePolicy: servicePrincipalTrust("apigateway.amazonaws.com"),
    });
    new IamRolePolicy(this, "credentials-role-policy", {
      name: "invoke-chat-function",
      role: this.credentialsRole.id,
      policy: policyDocument([
        { Sid: "InvokeChatFunction", Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [fn.arn] },
      ]),
    });

    const chat = new ApiGatewayResource(this, "chat-resource", {
      restApiId: apiId,
      parentId: this.restApi.rootResourceId,
      pathPart: "chat",
    });

    const requestModel = this.model("request-model", "ChatRequest", chatRequestSchema(options.limits));
    const replyModel = this.model("reply-model", "ChatReply", REPLY_SCHEMA);
    const errorModel = this.model("error-model", "ChatError", ERROR_SCHEMA);
    const validator = new ApiGatewayRequestValidator(this, "body-validator", {
      restApiId: apiId,
      name: "validate-body",
      validateRequestBody: true,
      validateRequestParameters: false,
    });

    let authorizer: ApiGatewayAuthorizer | undefined;
    if (options.userPoolArn) {
      authorizer = this.authorizer = new ApiGatewayAuthorizer(this, "authorizer", {
        restApiId: apiId,
        name: "cognito-id-token",
        type: "COGNITO_USER_POOLS",
        providerArns: [options.userPoolArn],
        // Without OAuth scopes on the methods, API Gateway expects the ID token here.
        identitySource: "method.request.header.Authorization",
      });
    }
    const common = {
      restApiId: apiId,
      invokeArn: fn.invokeArn,
      credentials: this.credentialsRole.arn,
      timeoutMs: options.integrationTimeoutMs ?? 29_000,
      apiKeyRequired: options.apiKeyRequired ?? false,
      authorizerId: authorizer?.id,
      errorModel,
    };
    const methods = lambdaMethod(this, "", {
      ...common,
      resourceId: chat.id,
      httpMethod: "POST",
      validatorId: validator.id,
      requestModel,
      replyModel,
      requestTemplate: authorizer ? CHAT_TEMPLATE : undefined,
    });
    const integration = methods[1] as ApiGatewayIntegration;
    const signInResources: TerraformResource[] = [];
    if (authorizer) signInResources.push(authorizer);
    if (authorizer && (options.ticketRoute ?? true)) {
      // Every route this API adds lives under /chat/ (CloudFront's /chat/* behaviour).
      const ticket = new ApiGatewayResource(this, "ticket-resource", { restApiId: apiId, parentId: chat.id, pathPart: "ticket" });
      const ticketModel = this.model("ticket-model", "ChatTicket", TICKET_SCHEMA);
      signInResources.push(ticket, ticketModel, ...lambdaMethod(this, "ticket", {
        ...common,
        resourceId: ticket.id,
        httpMethod: "POST",
        replyModel: ticketModel,
        requestTemplate: TICKET_TEMPLATE,
      }));
    }

    // API Gateway's own errors (invalid body, throttling, the usage plan's quota, integration
    // timeout) get the same {"message", "reason"} shape as the function's, so a client reads
    // the same fields; the reasons (contract/chat-errors.json) tell the three 429s apart.
    const gatewayResponses = GATEWAY_ERRORS.map(
      ({ responseType, reason }) =>
        new ApiGatewayGatewayResponse(this, `gateway-response-${responseType.toLowerCase().replace(/_/g, "-")}`, {
          restApiId: apiId,
          responseType,
          responseTemplates: { "application/json": gatewayResponseTemplate(reason) },
        }),
    );

    const redeployOn: TerraformResource[] = [
      chat, requestModel, replyModel, errorModel, validator, ...methods, ...gatewayResponses, ...signInResources,
    ];
    this.redeployOn = redeployOn;
    // Read at synth, so routes other constructs add (addRoutes) are in the snapshot too.
    const deployment = (this.deployment = new ApiGatewayDeployment(this, "deployment", {
      restApiId: apiId,
      description: "Managed by cdktf; replaced whenever the API's configuration changes",
      // A deployment is a snapshot: without a new one, changes to methods, integrations
      // or responses never reach the stage. `configuration` hashes what this code sets on
      // them; `targets` what it points at (ids, the function and role ARNs), so a
      // replaced function is picked up too. Neither includes values AWS computes, which
      // would redeploy on every plan.
      triggers: {
        configuration: configurationHash(redeployOn),
        targets: Lazy.stringValue({ produce: () => Fn.sha1(Fn.jsonencode([...redeployOn.map((r) => r.getStringAttribute("id")), integration.uri, integration.credentials])) }),
      },
      lifecycle: { createBeforeDestroy: true },
      dependsOn: redeployOn,
    }));

    // Created by us so their retention applies; API Gateway would otherwise create
    // them on first use with logs kept forever.
    this.executionLogGroup = new CloudwatchLogGroup(this, "execution-log-group", {
      name: `API-Gateway-Execution-Logs_${apiId}/${stageName}`,
      retentionInDays,
    });
    this.accessLogGroup = new CloudwatchLogGroup(this, "access-log-group", {
      name: `/aws/apigateway/${options.apiName}/access`,
      retentionInDays,
    });

    // INFO logging also needs the account's CloudWatch role: the account stack sets it, and
    // the environment's stack depends on that stack (see stacks/account-stack.ts).
    const stageDependencies: ITerraformDependable[] = [this.executionLogGroup];

    this.stage = new ApiGatewayStage(this, "stage", {
      restApiId: apiId,
      stageName,
      deploymentId: deployment.id,
      description: `Chat API stage ${stageName}`,
      xrayTracingEnabled: options.tracing ?? false,
      accessLogSettings: {
        destinationArn: this.accessLogGroup.arn,
        format: JSON.stringify({
          requestId: "$context.requestId",
          ip: "$context.identity.sourceIp",
          requestTime: "$context.requestTime",
          httpMethod: "$context.httpMethod",
          resourcePath: "$context.resourcePath",
          status: "$context.status",
          responseLength: "$context.responseLength",
          integrationLatency: "$context.integrationLatency",
          integrationStatus: "$context.integration.status",
          errorMessage: "$context.error.message",
        }),
      },
      dependsOn: stageDependencies,
    });

    new ApiGatewayMethodSettings(this, "method-settings", {
      restApiId: apiId,
      stageName: this.stage.stageName,
      methodPath: "*/*",
      settings: {
        loggingLevel: "INFO",
        metricsEnabled: true,
        dataTraceEnabled: options.dataTrace ?? false,
        throttlingRateLimit: options.throttlingRateLimit ?? 10,
        throttlingBurstLimit: options.throttlingBurstLimit ?? 20,
      },
    });

    new LambdaPermission(this, "invoke-permission", {
      statementId: "AllowApiGatewayPostChat",
      action: "lambda:InvokeFunction",
      functionName: fn.functionName,
      principal: "apigateway.amazonaws.com",
      sourceArn: `${this.restApi.executionArn}/${stageName}/POST/chat`,
    });

    this.domainName = `${apiId}.execute-api.${options.region}.amazonaws.com`;
    this.chatUrl = `${this.stage.invokeUrl}/chat`;
  }

  /**
   * Routes another construct built on this API (its resources, methods and integrations):
   * the stage's deployment waits for them and is replaced whenever they change, as for
   * this construct's own.
   */
  addRoutes(resources: readonly TerraformResource[]): void {
    this.redeployOn.push(...resources);
    this.deployment.dependsOn = [...(this.deployment.dependsOn ?? []), ...resources.map((r) => dependable(r))];
  }

  private model(id: string, name: string, schema: Record<string, unknown>): ApiGatewayModel {
    return new ApiGatewayModel(this, id, {
      restApiId: this.restApi.id,
      name,
      contentType: "application/json",
      schema: JSON.stringify(schema),
    });
  }
}
