import { CHAT_ERRORS, ERROR_REASONS, FALLBACK_MESSAGE, GATEWAY_ERRORS } from "../stacks/chat-contract";
import { StackJson, addressesOf, byId, environmentConfig, only, policy, resourcesOf, synthStack } from "./helpers";

// The open API (auth: none) is the original sample's; signin.test.ts covers the signed-in one.
const json: StackJson = synthStack(environmentConfig({ auth: "none" }));
const REF = (type: string) => new RegExp(`^\\$\\{${type}\\.[\\w-]+\\.`);

describe("ChatApi", () => {
  it("is a regional REST API with a /chat resource", () => {
    expect(only(json, "aws_api_gateway_rest_api")).toMatchObject({
      name: "api-chatbot-dev",
      endpoint_configuration: { types: ["REGIONAL"] },
    });
    expect(only(json, "aws_api_gateway_resource")).toMatchObject({ path_part: "chat" });
  });

  it("validates the POST /chat body against a JSON schema model before invoking anything", () => {
    const method = only(json, "aws_api_gateway_method");
    expect(method).toMatchObject({ http_method: "POST", authorization: "NONE" });
    expect(method.request_validator_id).toMatch(REF("aws_api_gateway_request_validator"));
    expect(method.request_models["application/json"]).toMatch(REF("aws_api_gateway_model"));
    expect(only(json, "aws_api_gateway_request_validator")).toMatchObject({ validate_request_body: true });
    const schema = JSON.parse(byId(json, "aws_api_gateway_model", "request-model").schema);
    expect(schema).toMatchObject({
      type: "object",
      required: ["text"],
      properties: {
        text: { type: "string", minLength: 1, maxLength: 4000 },
        history: { type: "array", maxItems: 10, items: { properties: { role: { enum: ["user", "assistant"] } } } },
      },
    });
  });

  it("accepts a saved conversation's id (22 URL-safe characters) and a retry flag in the POST /chat body", () => {
    const schema = JSON.parse(byId(json, "aws_api_gateway_model", "request-model").schema);
    expect(schema.properties.conversationId).toEqual({ type: "string", pattern: "^[A-Za-z0-9_-]{22}$" });
    expect(schema.properties.retry).toEqual({ type: "boolean" });
    const id = new RegExp(schema.properties.conversationId.pattern);
    expect(["AbCdEfGhIjKlMnOpQrSt_-", "0123456789abcdefghijkl"].every((s) => id.test(s))).toBe(true);
    expect(["short", "AbCdEfGhIjKlMnOpQrSt_-x", "AbCdEfGhIjKlMnOpQrSt/+", "c#AbCdEfGhIjKlMnOpQrS"].some((s) => id.test(s))).toBe(false);
    expect(schema.required).toEqual(["text"]);
  });

  it("sizes the request schema from the configured limits", () => {
    const custom = synthStack(environmentConfig({ maxTextChars: 500, maxHistoryTurns: 4 }));
    const schema = JSON.parse(byId(custom, "aws_api_gateway_model", "request-model").schema);
    expect(schema.properties.text.maxLength).toBe(500);
    expect(schema.properties.history.maxItems).toBe(4);
  });

  it("uses a non-proxy Lambda integration with a credentials role and an explicit timeout", () => {
    const integration = only(json, "aws_api_gateway_integration");
    expect(integration).toMatchObject({
      type: "AWS",
      integration_http_method: "POST",
      passthrough_behavior: "WHEN_NO_TEMPLATES",
      timeout_milliseconds: 29000,
    });
    expect(integration.uri).toMatch(/^\$\{aws_lambda_function\.[\w-]+\.invoke_arn\}$/);
    expect(integration.credentials).toMatch(/^\$\{aws_iam_role\.chat-api_credentials-role_[0-9A-F]+\.arn\}$/);
  });

  it("declares a method response and an integration response for 200 and every error status", () => {
    const statuses = (type: string) => resourcesOf(json, type).map((r) => r.status_code);
    const expected = ["200", ...CHAT_ERRORS.map((e) => String(e.statusCode))];
    expect(statuses("aws_api_gateway_method_response").sort()).toEqual([...expected].sort());
    expect(resourcesOf(json, "aws_api_gateway_integration_response")).toHaveLength(expected.length);
    expect(byId(json, "aws_api_gateway_method_response", "method-response-400").response_models["application/json"]).toMatch(REF("aws_api_gateway_model"));
  });

  it("maps each [status] error prefix to its status with the contract's selection pattern", () => {
    expect(CHAT_ERRORS.map((e) => e.statusCode).sort()).toEqual([400, 404, 429, 500, 502, 503, 504]);
    for (const { statusCode, selectionPattern } of CHAT_ERRORS) {
      expect(byId(json, "aws_api_gateway_integration_response", `integration-response-${statusCode}`).selection_pattern).toBe(selectionPattern);
    }
    expect(byId(json, "aws_api_gateway_integration_response", "integration-response-200").selection_pattern).toBeUndefined();
  });

  it("selects exactly one status for any error message (full match, as API Gateway does)", () => {
    const selected = (message: string) =>
      CHAT_ERRORS.filter((e) => new RegExp(`^(?:${e.selectionPattern})$`).test(message)).map((e) => e.statusCode);
    expect(selected("[400] text must be a non-empty string")).toEqual([400]);
    expect(selected("[429] the model is busy")).toEqual([429]);
    expect(selected("[404] no such conversation")).toEqual([404]);
    expect(selected("[502] the model returned no text")).toEqual([502]);
    expect(selected("[503] the model is not running")).toEqual([503]);
    expect(selected("[504] the model did not answer in time")).toEqual([504]);
    expect(selected("[500] endpoint is not configured")).toEqual([500]);
    expect(selected("[429:connection_limit] too many answers on this connection")).toEqual([429]);
    expect(selected("[429:daily_allowance] your daily allowance is used up")).toEqual([429]);
    expect(selected("[503:model_not_running] the model is not running")).toEqual([503]);
    expect(selected("Task timed out after 120.00 seconds")).toEqual([500]);
    expect(selected("Traceback (most recent call last):\n  File ...")).toEqual([500]);
  });

  it("answers errors as {message, reason} without the prefix, and hides unprefixed crashes", () => {
    const template = byId(json, "aws_api_gateway_integration_response", "integration-response-502").response_templates["application/json"];
    expect(template).toContain(`$raw.startsWith("[502]") || $raw.startsWith("[502:")`);
    expect(template).toContain("#set($msg = $raw.substring($after).trim())");
    expect(template).toContain(`#set($msg = "${FALLBACK_MESSAGE}")`);
    // The reason after "[502:", else the status's default; a crash gets the fallback reason.
    expect(template).toContain("#set($reason = $head.substring($from))");
    expect(template).toContain('#set($reason = "model_error")');
    expect(template).toContain('#set($reason = "internal")');
    expect(template).toMatch(/\{"message": "\$util\.escapeJavaScript\(\$msg\).*", "reason": "\$util\.escapeJavaScript\(\$reason\)"\}$/);
    expect(byId(json, "aws_api_gateway_integration_response", "integration-response-200").response_templates).toBeUndefined();
  });

  it("gives API Gateway's own errors the same {message, reason} shape, a reason per kind of 429", () => {
    const responses = resourcesOf(json, "aws_api_gateway_gateway_response");
    const reasons = Object.fromEntries(responses.map((r) => [r.response_type, JSON.parse(r.response_templates["application/json"].replace("$context.error.messageString", '"m"')).reason]));
    expect(reasons).toEqual({
      DEFAULT_4XX: "request_refused",
      DEFAULT_5XX: "internal",
      BAD_REQUEST_BODY: "invalid_request",
      UNAUTHORIZED: "unauthorized",
      THROTTLED: "throttled",
      QUOTA_EXCEEDED: "site_quota",
      INTEGRATION_TIMEOUT: "model_timeout",
    });
    for (const r of responses) expect(r.response_templates["application/json"]).toMatch(/^\{"message":\$context\.error\.messageString,"reason":"[a-z_]+"\}$/);
  });

  it("uses only reasons of contract/error-reasons.json, each with the status it is defined for", () => {
    for (const { statusCode, reason } of CHAT_ERRORS) expect(ERROR_REASONS[reason]?.status).toBe(statusCode);
    const statusOf: Record<string, number> = { DEFAULT_5XX: 500, BAD_REQUEST_BODY: 400, THROTTLED: 429, QUOTA_EXCEEDED: 429, INTEGRATION_TIMEOUT: 504 };
    for (const { responseType, reason } of GATEWAY_ERRORS) {
      expect(ERROR_REASONS[reason]).toBeDefined();
      if (statusOf[responseType]) expect(ERROR_REASONS[reason].status).toBe(statusOf[responseType]);
    }
  });

  it("redeploys whenever the API's configuration or its targets change", () => {
    const deployment = only(json, "aws_api_gateway_deployment");
    expect(deployment.lifecycle).toEqual({ create_before_destroy: true });
    const apiParts = ["integration", "integration_response", "method", "method_response", "model", "gateway_response", "request_validator", "resource"]
      .flatMap((t) => addressesOf(json, `aws_api_gateway_${t}`));
    for (const address of apiParts) {
      expect(deployment.depends_on).toContain(address);
      expect(deployment.triggers.targets).toContain(`${address}.id`);
    }
    expect(deployment.triggers.targets).toMatch(/aws_api_gateway_integration\.[\w-]+\.uri, aws_api_gateway_integration\.[\w-]+\.credentials\]\)\)\}$/);
    expect(deployment.triggers.configuration).toMatch(/^[0-9a-f]{40}$/);
  });

  it("changes the configuration trigger exactly when an API setting changes", () => {
    const trigger = (context = {}) => only(synthStack(environmentConfig({ auth: "none", ...context })), "aws_api_gateway_deployment").triggers.configuration;
    expect(trigger()).toBe(only(json, "aws_api_gateway_deployment").triggers.configuration);
    expect(trigger({ maxTextChars: 1000 })).not.toBe(trigger());
    expect(trigger({ integrationTimeoutMs: 10000 })).not.toBe(trigger());
    expect(trigger({ logRetentionDays: 7 })).toBe(trigger());
  });

  it("deploys a stage with INFO logging, metrics and throttling on every method", () => {
    const stage = only(json, "aws_api_gateway_stage");
    expect(stage.stage_name).toBe("dev");
    expect(stage.deployment_id).toMatch(REF("aws_api_gateway_deployment"));
    expect(only(json, "aws_api_gateway_method_settings")).toMatchObject({
      method_path: "*/*",
      settings: { logging_level: "INFO", metrics_enabled: true, throttling_rate_limit: 10, throttling_burst_limit: 20 },
    });
  });

  it("turns data trace on for the dev stage and off for any other", () => {
    expect(only(json, "aws_api_gateway_method_settings").settings.data_trace_enabled).toBe(true);
    const prod = synthStack(environmentConfig({ environments: { prod: {} } }));
    expect(only(prod, "aws_api_gateway_method_settings").settings.data_trace_enabled).toBe(false);
  });

  it("takes throttling from the configuration", () => {
    const custom = synthStack(environmentConfig({ throttlingRateLimit: 2.5, throttlingBurstLimit: 5 }));
    expect(only(custom, "aws_api_gateway_method_settings").settings).toMatchObject({ throttling_rate_limit: 2.5, throttling_burst_limit: 5 });
  });

  it("creates the execution and JSON access log groups with the retention, before the stage", () => {
    const execution = byId(json, "aws_cloudwatch_log_group", "chat-api_execution-log-group");
    const access = byId(json, "aws_cloudwatch_log_group", "chat-api_access-log-group");
    expect(execution.name).toMatch(/^API-Gateway-Execution-Logs_\$\{aws_api_gateway_rest_api\.[\w-]+\.id\}\/dev$/);
    expect(execution.retention_in_days).toBe(1);
    expect(access).toMatchObject({ name: "/aws/apigateway/api-chatbot-dev/access", retention_in_days: 1 });
    const stage = only(json, "aws_api_gateway_stage");
    expect(stage.access_log_settings.destination_arn).toMatch(/^\$\{aws_cloudwatch_log_group\.chat-api_access-log-group_[0-9A-F]+\.arn\}$/);
    expect(Object.keys(JSON.parse(stage.access_log_settings.format))).toEqual(expect.arrayContaining(["requestId", "status", "integrationLatency"]));
    expect(stage.depends_on).toEqual(expect.arrayContaining([expect.stringMatching(/^aws_cloudwatch_log_group\.chat-api_execution-log-group_/)]));
  });

  it("leaves the account's CloudWatch role to the account stack, so no environment's destroy removes it", () => {
    for (const settings of [{}, { manageApiGatewayAccount: false }]) {
      const env = synthStack(environmentConfig(settings));
      expect(env.resource.aws_api_gateway_account).toBeUndefined();
      expect(env.resource.aws_iam_role_policy_attachment).toBeUndefined();
    }
  });

  it("lets the credentials role invoke only the chat function", () => {
    const rolePolicy = resourcesOf(json, "aws_iam_role_policy").find((p) => p.name === "invoke-chat-function");
    expect(policy(rolePolicy.policy).Statement).toEqual([
      { Sid: "InvokeChatFunction", Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [expect.stringMatching(/^\$\{aws_lambda_function\.[\w-]+\.arn\}$/)] },
    ]);
    const role = byId(json, "aws_iam_role", "credentials-role");
    expect(role.name).toBe("api-role-chatbot-dev");
    expect(policy(role.assume_role_policy).Statement[0].Principal).toEqual({ Service: "apigateway.amazonaws.com" });
  });

  it("allows API Gateway to invoke the function only for POST /chat on its stage", () => {
    expect(byId(json, "aws_lambda_permission", "chat-api_invoke-permission")).toMatchObject({
      action: "lambda:InvokeFunction",
      principal: "apigateway.amazonaws.com",
      source_arn: expect.stringMatching(/^\$\{aws_api_gateway_rest_api\.[\w-]+\.execution_arn\}\/dev\/POST\/chat$/),
    });
  });

  it("attaches no broad managed policy like the original's AWSLambdaExecute", () => {
    expect(JSON.stringify(json)).not.toMatch(/AWSLambdaExecute|"Action":\s*\["?\*|lambda:\*|sagemaker:\*/);
  });
});
