import { ApiGatewayIntegration } from "@cdktf/provider-aws/lib/api-gateway-integration";
import { ApiGatewayMethod } from "@cdktf/provider-aws/lib/api-gateway-method";
import { ApiGatewayResource } from "@cdktf/provider-aws/lib/api-gateway-resource";
import type { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import type { TerraformResource } from "cdktf";
import { Construct } from "constructs";
import type { ChatApi } from "../chat-api";

/** The handler of every `/conversations` route (lambda-chat/conversations_function.py). */
export const CONVERSATIONS_HANDLER = "conversations_function.lambda_handler";
/** Its module, which the function package must contain. */
export const CONVERSATIONS_MODULE = "conversations_function.py";

/** One route: a resource path below the stage (as in a Lambda permission's source ARN) and a method. */
export interface ConversationRoute {
  /** Construct ids of the route's parts start with it. */
  readonly key: string;
  readonly httpMethod: "GET" | "PATCH" | "DELETE";
  /** The resource it is on. */
  readonly resource: "conversations" | "conversation" | "export";
}

/** Every route of the conversations API (docs/conversations.md). */
export const CONVERSATION_ROUTES: readonly ConversationRoute[] = [
  { key: "list", httpMethod: "GET", resource: "conversations" },
  { key: "delete-all", httpMethod: "DELETE", resource: "conversations" },
  { key: "get", httpMethod: "GET", resource: "conversation" },
  { key: "rename", httpMethod: "PATCH", resource: "conversation" },
  { key: "delete", httpMethod: "DELETE", resource: "conversation" },
  { key: "export", httpMethod: "GET", resource: "export" },
];

/** Each resource's path in an execute-api ARN: a path parameter matches as `*`. */
const ARN_PATHS: Readonly<Record<ConversationRoute["resource"], string>> = {
  conversations: "conversations",
  conversation: "conversations/*",
  export: "conversations/*/export",
};

/** Options of {@link ConversationRoutes}. */
export interface ConversationRoutesOptions {
  /** The REST API the routes join; it must have the Cognito authorizer (sign-in). */
  readonly api: ChatApi;
  /** The function behind every route ({@link CONVERSATIONS_HANDLER}). */
  readonly function: LambdaFunction;
  /** Every method requires the API key CloudFront sends. @default false */
  readonly apiKeyRequired?: boolean;
  /** Integration timeout in ms. @default 29000 */
  readonly integrationTimeoutMs?: number;
}

/**
 * A person's saved conversations over REST: `/conversations` (GET lists, DELETE deletes all),
 * `/conversations/{id}` (GET, PATCH renames, DELETE) and `/conversations/{id}/export` (GET,
 * Markdown), each behind the chat API's Cognito authorizer and with a Lambda proxy
 * integration: the function answers status, headers and body itself (the export is not
 * JSON), and reads the caller from `requestContext.authorizer.claims`, which API Gateway
 * fills from the verified ID token; a client cannot write it
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html).
 * API Gateway invokes the function through a resource policy that names exactly these methods.
 */
export class ConversationRoutes extends Construct {
  constructor(scope: Construct, id: string, options: ConversationRoutesOptions) {
    super(scope, id);
    const { api, function: fn } = options;
    if (!api.authorizer) throw new Error("ConversationRoutes needs the chat API's Cognito authorizer: saved conversations need sign-in");

    const restApiId = api.restApi.id;
    const conversations = new ApiGatewayResource(this, "conversations-resource", { restApiId, parentId: api.restApi.rootResourceId, pathPart: "conversations" });
    const conversation = new ApiGatewayResource(this, "conversation-resource", { restApiId, parentId: conversations.id, pathPart: "{id}" });
    const exported = new ApiGatewayResource(this, "export-resource", { restApiId, parentId: conversation.id, pathPart: "export" });
    const resources = { conversations, conversation, export: exported };

    const routeResources: TerraformResource[] = [conversations, conversation, exported];
    for (const route of CONVERSATION_ROUTES) {
      const resourceId = resources[route.resource].id;
      const method = new ApiGatewayMethod(this, `${route.key}-method`, {
        restApiId,
        resourceId,
        httpMethod: route.httpMethod,
        authorization: "COGNITO_USER_POOLS",
        authorizerId: api.authorizer.id,
        apiKeyRequired: options.apiKeyRequired ?? false,
      });
      const integration = new ApiGatewayIntegration(this, `${route.key}-integration`, {
        restApiId,
        resourceId,
        httpMethod: method.httpMethod,
        type: "AWS_PROXY",
        // Lambda is always invoked with POST, whatever the viewer's method.
        integrationHttpMethod: "POST",
        uri: fn.invokeArn,
        timeoutMilliseconds: options.integrationTimeoutMs ?? 29_000,
      });
      new LambdaPermission(this, `${route.key}-permission`, {
        statementId: `AllowApiGateway-${route.key}`,
        action: "lambda:InvokeFunction",
        functionName: fn.functionName,
        principal: "apigateway.amazonaws.com",
        sourceArn: `${api.restApi.executionArn}/${api.stage.stageName}/${route.httpMethod}/${ARN_PATHS[route.resource]}`,
      });
      routeResources.push(method, integration);
    }
    api.addRoutes(routeResources);
  }
}
