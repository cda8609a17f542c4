import { Testing } from "cdktf";
import { ChatStream, ChatStreamOptions } from "../stacks/chat-stream";
import { FunctionPackage } from "../stacks/function-package";
import { CHAT_SETTINGS, FIXTURES, StackJson, byId, environmentConfig, only, policy, resourcesOf, synthStack } from "./helpers";

const ENDPOINT_ARN = "arn:aws:sagemaker:ap-northeast-2:123456789012:endpoint/falcon";
const REF = (type: string, attribute: string) => new RegExp(`^\\$\\{${type}\\.[\\w-]+\\.${attribute}\\}$`);
const API_ID = "${aws_apigatewayv2_api.chat-stream_websocket-api_04B42A5F.id}";
const EXECUTION_ARN = "${aws_apigatewayv2_api.chat-stream_websocket-api_04B42A5F.execution_arn}";

function synthStream(options: Partial<ChatStreamOptions> = {}): StackJson {
  return JSON.parse(
    Testing.synthScope((scope) => {
      new ChatStream(scope, "chat-stream", {
        apiName: "api-chatbot-stream-dev",
        region: "ap-northeast-2",
        functionName: "lambda-chat-stream-dev",
        code: new FunctionPackage(scope, "function-package", { sourceDir: FIXTURES.lambdaDir }),
        settings: CHAT_SETTINGS,
        endpointArn: ENDPOINT_ARN,
        allowedOrigins: ["https://d111.cloudfront.net"],
        ...options,
      });
    }),
  );
}

describe("ChatStream", () => {
  const json = synthStream();
  const fn = () => byId(json, "aws_lambda_function", "stream-function");
  const notice = () => byId(json, "aws_lambda_function", "failure-notice_function");

  it("creates a WebSocket API that routes on the message's action and reads API keys from x-api-key", () => {
    expect(only(json, "aws_apigatewayv2_api")).toMatchObject({
      name: "api-chatbot-stream-dev",
      protocol_type: "WEBSOCKET",
      route_selection_expression: "$request.body.action",
      api_key_selection_expression: "$request.header.x-api-key",
    });
  });

  it("sends $connect, $disconnect, chat and $default to the streaming function through one proxy integration", () => {
    const integration = only(json, "aws_apigatewayv2_integration");
    expect(integration).toMatchObject({ api_id: API_ID, integration_type: "AWS_PROXY", integration_method: "POST", integration_uri: expect.stringMatching(REF("aws_lambda_function", "invoke_arn")) });
    const routes = resourcesOf(json, "aws_apigatewayv2_route");
    expect(routes.map((r) => r.route_key).sort()).toEqual(["$connect", "$default", "$disconnect", "chat"]);
    for (const route of routes) expect(route.target).toMatch(/^integrations\/\$\{aws_apigatewayv2_integration\.[\w-]+\.id\}$/);
  });

  it("runs stream_function.lambda_handler of the shared package, calling only the one endpoint, with the actions its streaming call needs", () => {
    expect(fn()).toMatchObject({ function_name: "lambda-chat-stream-dev", handler: "stream_function.lambda_handler", timeout: 120 });
    expect(fn().filename).toMatch(/^\$\{data\.archive_file\.[\w-]+\.output_path\}$/);
    const statements = policy(byId(json, "aws_iam_role_policy", "stream-function_role-policy").policy).Statement;
    expect(statements.find((s) => s.Sid === "InvokeTheModel")).toEqual({ Sid: "InvokeTheModel", Effect: "Allow", Action: ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"], Resource: [ENDPOINT_ARN] });
  });

  it("tells the function the API's own management endpoint (never CloudFront), the allowed origins and its limits", () => {
    expect(fn().environment.variables).toMatchObject({
      endpoint: "falcon",
      CONNECTIONS_ENDPOINT: `https://${API_ID}.execute-api.ap-northeast-2.amazonaws.com/stream`,
      ALLOWED_ORIGINS: '["https://d111.cloudfront.net"]',
      CONNECTIONS_TABLE: expect.stringMatching(REF("aws_dynamodb_table", "name")),
      MAX_ANSWERS_PER_CONNECTION: "50",
      MAX_NEW_TOKENS: "512",
    });
  });

  it("lets the function post only to this API's stream stage, count answers only in its table, invoke only itself and its failure notice", () => {
    expect(policy(byId(json, "aws_iam_role_policy", "stream-function-policy").policy)).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Sid: "PostToOwnConnections", Effect: "Allow", Action: ["execute-api:ManageConnections"], Resource: [`${EXECUTION_ARN}/stream/POST/@connections/*`] },
        { Sid: "CountAnswersPerConnection", Effect: "Allow", Action: ["dynamodb:DeleteItem", "dynamodb:UpdateItem"], Resource: [expect.stringMatching(REF("aws_dynamodb_table", "arn"))] },
        { Sid: "InvokeItselfAsynchronously", Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [expect.stringMatching(/^\$\{aws_lambda_function\.chat-stream_stream-function_[0-9A-F]{8}\.arn\}$/)] },
        { Sid: "NotifyFailedRunsDestination", Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [expect.stringMatching(/^\$\{aws_lambda_function\.chat-stream_failure-notice_function_[0-9A-F]{8}\.arn\}$/)] },
      ],
    });
  });

  it("never retries an asynchronous streaming run, drops one that waited a minute, and sends both to the failure notice", () => {
    expect(byId(json, "aws_lambda_function_event_invoke_config", "chat-stream_async-invoke-config")).toEqual({
      function_name: expect.stringMatching(/^\$\{aws_lambda_function\.chat-stream_stream-function_[0-9A-F]{8}\.function_name\}$/),
      maximum_retry_attempts: 0,
      maximum_event_age_in_seconds: 60,
      destination_config: { on_failure: { destination: expect.stringMatching(/^\$\{aws_lambda_function\.chat-stream_failure-notice_function_[0-9A-F]{8}\.arn\}$/) } },
    });
  });

  it("runs the failure notice from the same package with only the API's management endpoint", () => {
    expect(notice()).toMatchObject({
      function_name: "lambda-chat-stream-dev-failed",
      handler: "stream_failures.notice.lambda_handler",
      filename: fn().filename,
      timeout: 15,
      memory_size: 128,
      environment: { variables: { CONNECTIONS_ENDPOINT: `https://${API_ID}.execute-api.ap-northeast-2.amazonaws.com/stream` } },
      logging_config: { log_format: "JSON", log_group: expect.stringMatching(REF("aws_cloudwatch_log_group", "name")) },
    });
    expect(byId(json, "aws_cloudwatch_log_group", "failure-notice_log-group")).toMatchObject({ name: "/aws/lambda/lambda-chat-stream-dev-failed", retention_in_days: 1 });
  });

  it("lets the failure notice only write its log and post to this API's stream connections (no model, no table, no invoke)", () => {
    const role = byId(json, "aws_iam_role", "failure-notice_role");
    expect(role.name).toBe("lambda-chat-stream-dev-failed-role");
    expect(policy(role.assume_role_policy).Statement).toEqual([{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }]);
    expect(policy(byId(json, "aws_iam_role_policy", "failure-notice_role-policy").policy).Statement).toEqual([
      { Sid: "WriteOwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [expect.stringMatching(/^\$\{aws_cloudwatch_log_group\.chat-stream_failure-notice_log-group_[0-9A-F]{8}\.arn\}:\*$/)] },
      { Sid: "PostToOwnConnections", Effect: "Allow", Action: ["execute-api:ManageConnections"], Resource: [`${EXECUTION_ARN}/stream/POST/@connections/*`] },
    ]);
  });

  it("drops a failure notice Lambda could not deliver within 5 minutes instead of 6 hours", () => {
    expect(byId(json, "aws_lambda_function_event_invoke_config", "failure-notice_async-invoke-config")).toMatchObject({ maximum_retry_attempts: 2, maximum_event_age_in_seconds: 300 });
  });

  it("refuses a stream function name too long for its failure notice's role", () => {
    expect(() => synthStream({ functionName: "f".repeat(55) })).toThrow(/streamFunctionName is too long: "f{55}-failed-role"/);
  });

  it("lets API Gateway invoke the function only for this API's stream stage", () => {
    expect(only(json, "aws_lambda_permission")).toMatchObject({
      action: "lambda:InvokeFunction",
      principal: "apigateway.amazonaws.com",
      source_arn: `${EXECUTION_ARN}/stream/*`,
    });
  });

  it("counts answers per connection in an on-demand table whose items expire", () => {
    expect(only(json, "aws_dynamodb_table")).toMatchObject({
      name: "api-chatbot-stream-dev-connections",
      billing_mode: "PAY_PER_REQUEST",
      hash_key: "connectionId",
      attribute: [{ name: "connectionId", type: "S" }],
      ttl: { attribute_name: "expires_at", enabled: true },
    });
  });

  it("deploys a stage named stream by itself, with INFO logs, detailed metrics and throttling", () => {
    expect(only(json, "aws_apigatewayv2_stage")).toMatchObject({
      api_id: API_ID,
      name: "stream",
      auto_deploy: true,
      default_route_settings: { logging_level: "INFO", data_trace_enabled: false, detailed_metrics_enabled: true, throttling_rate_limit: 10, throttling_burst_limit: 20 },
    });
    const throttled = only(synthStream({ throttlingRateLimit: 2, throttlingBurstLimit: 4, dataTrace: true }), "aws_apigatewayv2_stage");
    expect(throttled.default_route_settings).toMatchObject({ throttling_rate_limit: 2, throttling_burst_limit: 4, data_trace_enabled: true });
  });

  it("writes JSON access logs and creates both log groups with the retention before the stage", () => {
    const stage = only(json, "aws_apigatewayv2_stage");
    const execution = byId(json, "aws_cloudwatch_log_group", "execution-log-group");
    expect(execution).toEqual(expect.objectContaining({ name: `/aws/apigateway/${API_ID}/stream`, retention_in_days: 1 }));
    expect(byId(json, "aws_cloudwatch_log_group", "access-log-group")).toMatchObject({ name: "/aws/apigateway/api-chatbot-stream-dev/access", retention_in_days: 1 });
    expect(stage.access_log_settings.destination_arn).toMatch(REF("aws_cloudwatch_log_group", "arn"));
    expect(Object.keys(JSON.parse(stage.access_log_settings.format))).toEqual(
      expect.arrayContaining(["requestId", "connectionId", "eventType", "routeKey", "status", "integrationLatency"]),
    );
    expect(stage.depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^aws_cloudwatch_log_group\.chat-stream_execution-log-group_/)]));
    expect(stage.depends_on.filter((d: string) => d.startsWith("aws_apigatewayv2_route."))).toHaveLength(4);
  });

  it("requires the API key on $connect only when told, and never on later messages", () => {
    const keyed = resourcesOf(synthStream({ apiKeyRequired: true }), "aws_apigatewayv2_route");
    expect(Object.fromEntries(keyed.map((r) => [r.route_key, r.api_key_required]))).toEqual({ $connect: true, $disconnect: undefined, chat: undefined, $default: undefined });
    expect(resourcesOf(json, "aws_apigatewayv2_route").find((r) => r.route_key === "$connect").api_key_required).toBe(false);
  });
});

describe("ChatbotStack with streaming", () => {
  // The open site; signin.test.ts covers the /chat/* path and the tables sign-in adds.
  const json = synthStack(environmentConfig({ auth: "none" }));

  it("streams by default, letting only the distribution's own origin connect", () => {
    const stream = byId(json, "aws_lambda_function", "stream-function");
    expect(stream.function_name).toBe("lambda-chat-stream-dev");
    expect(JSON.parse(stream.environment.variables.ALLOWED_ORIGINS)).toEqual([expect.stringMatching(/^https:\/\/\$\{aws_cloudfront_distribution\.[\w-]+\.domain_name\}$/)]);
  });

  it("refers to the WebSocket API from the distribution only by its id and the literal stage name, so there is no cycle", () => {
    const distribution = only(json, "aws_cloudfront_distribution");
    const origin = distribution.origin.find((o: any) => o.origin_id === "chat-stream");
    expect(origin.domain_name).toMatch(/^\$\{aws_apigatewayv2_api\.[\w-]+\.id\}\.execute-api\.ap-northeast-2\.amazonaws\.com$/);
    expect(JSON.stringify(distribution)).not.toMatch(/aws_apigatewayv2_stage|aws_lambda_function/);
    expect(distribution.ordered_cache_behavior.map((b: any) => b.path_pattern)).toEqual(["/chat", "/stream"]);
  });

  it("passes the WebSocket throttling and the answer limit from the configuration", () => {
    const tuned = synthStack(environmentConfig({ streamThrottlingRateLimit: 3, streamThrottlingBurstLimit: 6, maxAnswersPerConnection: 7 }));
    expect(only(tuned, "aws_apigatewayv2_stage").default_route_settings).toMatchObject({ throttling_rate_limit: 3, throttling_burst_limit: 6 });
    expect(byId(tuned, "aws_lambda_function", "stream-function").environment.variables.MAX_ANSWERS_PER_CONNECTION).toBe("7");
  });

  it("leaves the WebSocket API, its function and the /stream path out when streaming is off", () => {
    const off = synthStack(environmentConfig({ auth: "none", streaming: false }));
    for (const type of ["aws_apigatewayv2_api", "aws_apigatewayv2_stage", "aws_dynamodb_table", "aws_lambda_function_event_invoke_config"]) {
      expect({ type, count: resourcesOf(off, type).length }).toEqual({ type, count: 0 });
    }
    expect(resourcesOf(off, "aws_lambda_function").map((f) => f.function_name)).toEqual(["lambda-chat-api-dev"]);
    expect(only(off, "aws_cloudfront_distribution").ordered_cache_behavior.map((b: any) => b.path_pattern)).toEqual(["/chat"]);
    expect(off.output!.StreamUrl).toBeUndefined();
  });
});
