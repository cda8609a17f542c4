import { ApiGatewayIntegration } from "@cdktf/provider-aws/lib/api-gateway-integration";
import { ApiGatewayIntegrationResponse } from "@cdktf/provider-aws/lib/api-gateway-integration-response";
import { ApiGatewayMethod } from "@cdktf/provider-aws/lib/api-gateway-method";
import { ApiGatewayMethodResponse } from "@cdktf/provider-aws/lib/api-gateway-method-response";
import type { ApiGatewayModel } from "@cdktf/provider-aws/lib/api-gateway-model";
import type { TerraformResource } from "cdktf";
import type { Construct } from "constructs";
import { CHAT_ERRORS, errorResponseTemplate } from "./chat-contract";

/** One method of the REST API in front of the chat function, with the error contract. */
export interface LambdaMethodOptions {
  readonly restApiId: string;
  readonly resourceId: string;
  readonly httpMethod: string;
  /** The function's invoke ARN and the role API Gateway invokes it with. */
  readonly invokeArn: string;
  readonly credentials: string;
  readonly timeoutMs: number;
  readonly apiKeyRequired: boolean;
  /** A COGNITO_USER_POOLS authorizer: the method needs a valid ID token in `Authorization`. @default none */
  readonly authorizerId?: string;
  /** Body validation. @default none */
  readonly validatorId?: string;
  readonly requestModel?: ApiGatewayModel;
  /**
   * The event the function receives, as a mapping template for `application/json`.
   * Without one the body is the event (WHEN_NO_TEMPLATES); with one, other content types
   * get 415 (NEVER), so no request reaches the function without passing the template.
   * @default none
   */
  readonly requestTemplate?: string;
  readonly replyModel: ApiGatewayModel;
  readonly errorModel: ApiGatewayModel;
}

/** Creates the method, its non-proxy Lambda integration and every response; returns all of them (for the deployment's triggers). */
export function lambdaMethod(scope: Construct, prefix: string, o: LambdaMethodOptions): TerraformResource[] {
  const id = (name: string) => (prefix ? `${prefix}-${name}` : name);
  const method = new ApiGatewayMethod(scope, id(`${o.httpMethod.toLowerCase()}-method`), {
    restApiId: o.restApiId,
    resourceId: o.resourceId,
    httpMethod: o.httpMethod,
    authorization: o.authorizerId ? "COGNITO_USER_POOLS" : "NONE",
    authorizerId: o.authorizerId,
    apiKeyRequired: o.apiKeyRequired,
    requestValidatorId: o.validatorId,
    requestModels: o.requestModel ? { "application/json": o.requestModel.name } : undefined,
  });
  const integration = new ApiGatewayIntegration(scope, id(`${o.httpMethod.toLowerCase()}-integration`), {
    restApiId: o.restApiId,
    resourceId: o.resourceId,
    httpMethod: method.httpMethod,
    // Non-proxy Lambda integration: the event is the body (or the template's); errors are mapped below.
    type: "AWS",
    integrationHttpMethod: "POST",
    uri: o.invokeArn,
    credentials: o.credentials,
    passthroughBehavior: o.requestTemplate ? "NEVER" : "WHEN_NO_TEMPLATES",
    requestTemplates: o.requestTemplate ? { "application/json": o.requestTemplate } : undefined,
    timeoutMilliseconds: o.timeoutMs,
  });
  const resources: TerraformResource[] = [method, integration];
  for (const { statusCode, selectionPattern } of [{ statusCode: 200, selectionPattern: undefined }, ...CHAT_ERRORS]) {
    const methodResponse = new ApiGatewayMethodResponse(scope, id(`method-response-${statusCode}`), {
      restApiId: o.restApiId,
      resourceId: o.resourceId,
      httpMethod: method.httpMethod,
      statusCode: String(statusCode),
      responseModels: { "application/json": (statusCode === 200 ? o.replyModel : o.errorModel).name },
    });
    const integrationResponse = new ApiGatewayIntegrationResponse(scope, id(`integration-response-${statusCode}`), {
      restApiId: o.restApiId,
      resourceId: o.resourceId,
      httpMethod: method.httpMethod,
      statusCode: methodResponse.statusCode,
      // No pattern: the default response, used when the function returned normally.
      selectionPattern,
      responseTemplates: selectionPattern === undefined ? undefined : { "application/json": errorResponseTemplate(statusCode) },
      dependsOn: [integration],
    });
    resources.push(methodResponse, integrationResponse);
  }
  return resources;
}

/**
 * What the function learns about the caller: only the authorizer's claims of the verified
 * ID token (`sub`, groups, expiry), never anything from the body. `cognito:groups` is a
 * list in the token; API Gateway hands it to the template as one string.
 */
export const CALLER_TEMPLATE =
  `"caller": {"sub": "$util.escapeJavaScript($context.authorizer.claims.sub)", ` +
  `"groups": "$util.escapeJavaScript($context.authorizer.claims['cognito:groups'])", ` +
  `"exp": "$util.escapeJavaScript($context.authorizer.claims.exp)"}`;

/** POST /chat with sign-in: the body under `body`, the caller beside it. */
export const CHAT_TEMPLATE = `{"body": $input.json('$'), ${CALLER_TEMPLATE}}`;
/** POST /chat/ticket: no body, only the caller. */
export const TICKET_TEMPLATE = `{"action": "ticket", ${CALLER_TEMPLATE}}`;
