import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CONVERSATION_ROUTES } from "../stacks/conversations/conversation-routes";
import { FIXTURES, StackJson, addressesOf, byId, environmentConfig, only, policy, resourcesOf, synthStack } from "./helpers";

const json: StackJson = synthStack();
const TABLE_ARN = "${aws_dynamodb_table.conversations_store_table_F6A4FD35.arn}";
const INDEX_ARN = `${TABLE_ARN}/index/by-updated`;
const REF = (type: string, attr: string) => new RegExp(`^\\$\\{${type}\\.[\\w-]+\\.${attr}\\}$`);

const table = (j: StackJson) => byId(j, "aws_dynamodb_table", "conversations_store_table");
const fn = (j: StackJson) => byId(j, "aws_lambda_function", "conversations_function");
/** Every statement of every inline policy of the stack, with the role it belongs to. */
const statementsOf = (j: StackJson) =>
  resourcesOf(j, "aws_iam_role_policy").flatMap((p) => policy(p.policy).Statement.map((s: any) => ({ role: p.role as string, ...s })));
const roleOf = (j: StackJson, functionId: string) => `\${aws_iam_role.${byId(j, "aws_lambda_function", functionId).role.match(/aws_iam_role\.([\w-]+)\.arn/)[1]}.id}`;

describe("saved conversations: the table", () => {
  it("is keyed by the caller's sub and an item key, on demand, named after the environment", () => {
    expect(table(json)).toMatchObject({ name: "chatbot-dev-conversations", billing_mode: "PAY_PER_REQUEST", hash_key: "user_id", range_key: "item_key" });
  });

  it("lists conversations through the sparse local index by-updated, projecting everything", () => {
    expect(table(json).local_secondary_index).toEqual([{ name: "by-updated", range_key: "updated_key", projection_type: "ALL" }]);
    expect(table(json).global_secondary_index).toBeUndefined();
    // DynamoDB wants exactly the key attributes declared, all strings.
    expect(table(json).attribute).toEqual([{ name: "user_id", type: "S" }, { name: "item_key", type: "S" }, { name: "updated_key", type: "S" }]);
  });

  it("keeps point-in-time recovery on", () => {
    expect(table(json).point_in_time_recovery).toEqual({ enabled: true });
  });

  it("is encrypted at rest the way the sign-in tables are (DynamoDB's AWS owned key)", () => {
    const usage = byId(json, "aws_dynamodb_table", "usage-table");
    expect(table(json).server_side_encryption).toBeUndefined();
    expect(table(json).server_side_encryption).toEqual(usage.server_side_encryption);
  });

  it("leaves TTL off without a retention, written out so removing a retention turns it off", () => {
    expect(table(json).ttl).toEqual({ attribute_name: "expires_at", enabled: false });
  });

  it("expires items by TTL on expires_at with a retention", () => {
    expect(table(synthStack(environmentConfig({ conversationRetentionDays: 30 }))).ttl).toEqual({ attribute_name: "expires_at", enabled: true });
  });

  it("is protected from deletion where the environment protects its user pool (prod in cdktf.json)", () => {
    expect(table(json).deletion_protection_enabled).toBe(false);
    expect(table(synthStack(environmentConfig({ userPoolDeletionProtection: true }))).deletion_protection_enabled).toBe(true);
    const shipped = require("../cdktf.json").context.chatbot;
    const [prod] = require("../stacks/config").loadConfig(shipped, { CHATBOT_ENVIRONMENTS: "prod" }).environments;
    expect(table(synthStack(prod)).deletion_protection_enabled).toBe(true);
  });
});

describe("saved conversations: the routes", () => {
  const resources = Object.fromEntries(resourcesOf(json, "aws_api_gateway_resource").map((r) => [r.path_part, r]));
  const methods = resourcesOf(json, "aws_api_gateway_method");
  const pathOf: Record<string, string> = { conversations: "conversations", conversation: "{id}", export: "export" };

  it("adds /conversations, /conversations/{id} and /conversations/{id}/export to the chat API", () => {
    const rest = only(json, "aws_api_gateway_rest_api");
    expect(resources.conversations.parent_id).toBe("${aws_api_gateway_rest_api.chat-api_rest-api_F92E3650.root_resource_id}");
    expect(resources["{id}"].parent_id).toMatch(/conversations-resource_[0-9A-F]+\.id\}$/);
    expect(resources.export.parent_id).toMatch(/conversation-resource_[0-9A-F]+\.id\}$/);
    for (const r of [resources.conversations, resources["{id}"], resources.export]) expect(r.rest_api_id).toMatch(REF("aws_api_gateway_rest_api", "id"));
    expect(rest.name).toBe("api-chatbot-dev");
  });

  it("has exactly the methods of the API: GET and DELETE on the list, GET, PATCH and DELETE on one, GET on its export", () => {
    const byResource = (part: string) => methods.filter((m) => m.resource_id.includes(`${part}-resource`)).map((m) => m.http_method).sort();
    expect(byResource("conversations")).toEqual(["DELETE", "GET"]);
    expect(byResource("conversation")).toEqual(["DELETE", "GET", "PATCH"]);
    expect(byResource("export")).toEqual(["GET"]);
  });

  it.each(CONVERSATION_ROUTES.map((r) => [`${r.httpMethod} ${r.resource}`, r] as const))("%s needs a Cognito ID token through the chat API's authorizer and CloudFront's key", (_name, route) => {
    const method = byId(json, "aws_api_gateway_method", `conversations_routes_${route.key}-method`);
    expect(method).toMatchObject({
      http_method: route.httpMethod,
      authorization: "COGNITO_USER_POOLS",
      authorizer_id: "${aws_api_gateway_authorizer.chat-api_authorizer_6EC81254.id}",
      api_key_required: true,
    });
    expect(method.resource_id).toContain(`_${route.resource}-resource_`);
    expect(resources[pathOf[route.resource]]).toBeDefined();
  });

  it.each(CONVERSATION_ROUTES.map((r) => [`${r.httpMethod} ${r.resource}`, r] as const))("%s reaches the conversations function through a Lambda proxy integration", (_name, route) => {
    const integration = byId(json, "aws_api_gateway_integration", `conversations_routes_${route.key}-integration`);
    expect(integration).toMatchObject({
      type: "AWS_PROXY",
      integration_http_method: "POST",
      uri: "${aws_lambda_function.conversations_function_D0CA0DFA.invoke_arn}",
      timeout_milliseconds: 29000,
      http_method: expect.stringContaining(`${route.key}-method_`),
    });
    // Invoked through the function's resource policy, not the chat function's credentials role.
    expect(integration.credentials).toBeUndefined();
    expect(integration.request_templates).toBeUndefined();
  });

  it("lets API Gateway invoke the function only for these six methods and paths of the stage", () => {
    const permissions = resourcesOf(json, "aws_lambda_permission").filter((p) => p.function_name.includes("conversations_function"));
    const prefix = "${aws_api_gateway_rest_api.chat-api_rest-api_F92E3650.execution_arn}/${aws_api_gateway_stage.chat-api_stage_DF8A0C4E.stage_name}";
    expect(permissions.map((p) => p.source_arn).sort()).toEqual(
      ["GET/conversations", "DELETE/conversations", "GET/conversations/*", "PATCH/conversations/*", "DELETE/conversations/*", "GET/conversations/*/export"].map((s) => `${prefix}/${s}`).sort(),
    );
    for (const p of permissions) expect(p).toMatchObject({ action: "lambda:InvokeFunction", principal: "apigateway.amazonaws.com" });
  });

  it("needs no API key on the routes when cloudFrontOnly is off", () => {
    const open = synthStack(environmentConfig({ cloudFrontOnly: false, allowedIpRanges: [], allowedCountries: [] }));
    for (const route of CONVERSATION_ROUTES) expect(byId(open, "aws_api_gateway_method", `conversations_routes_${route.key}-method`).api_key_required).toBe(false);
  });

  it("redeploys the stage when a route changes: the deployment waits for every method and integration and hashes them", () => {
    const deployment = only(json, "aws_api_gateway_deployment");
    const routeParts = [...addressesOf(json, "aws_api_gateway_method"), ...addressesOf(json, "aws_api_gateway_integration"), ...addressesOf(json, "aws_api_gateway_resource")].filter((a) => a.includes("conversations_routes_"));
    expect(routeParts).toHaveLength(3 + 2 * CONVERSATION_ROUTES.length);
    expect(deployment.depends_on).toEqual(expect.arrayContaining(routeParts));
    for (const address of routeParts) expect(deployment.triggers.targets).toContain(`${address}.id`);
    const renamed = synthStack(environmentConfig({ integrationTimeoutMs: 20000 }));
    expect(only(renamed, "aws_api_gateway_deployment").triggers.configuration).not.toBe(deployment.triggers.configuration);
  });
});

describe("saved conversations: the function", () => {
  it("runs conversations_function.lambda_handler from the chat package, named after the environment", () => {
    expect(fn(json)).toMatchObject({
      function_name: "lambda-chat-conversations-dev",
      handler: "conversations_function.lambda_handler",
      runtime: "python3.13",
      architectures: ["arm64"],
      timeout: 30,
      filename: "${data.archive_file.function-package_zip_9CABD720.output_path}",
      logging_config: { log_format: "JSON", log_group: expect.stringMatching(REF("aws_cloudwatch_log_group", "name")) },
    });
  });

  it("is told the table, the retention, its delete budget and what sign-in's claims reader needs", () => {
    const vars = fn(synthStack(environmentConfig({ conversationRetentionDays: 90 }))).environment.variables;
    expect(vars).toMatchObject({
      CONVERSATIONS_TABLE: "${aws_dynamodb_table.conversations_store_table_F6A4FD35.name}",
      CONVERSATION_RETENTION_DAYS: "90",
      CONVERSATION_DELETE_BUDGET_SECONDS: "20",
      AUTH: "cognito",
      USAGE_TABLE: expect.stringMatching(REF("aws_dynamodb_table", "name")),
      ADMIN_GROUP: "admin",
      LOG_PROMPTS: "false",
    });
    expect(vars.endpoint).toBeUndefined();
  });

  it("keeps a delete's budget well inside a shorter integration timeout", () => {
    expect(fn(synthStack(environmentConfig({ integrationTimeoutMs: 15000 }))).environment.variables.CONVERSATION_DELETE_BUDGET_SECONDS).toBe("6");
    expect(fn(synthStack(environmentConfig({ integrationTimeoutMs: 5000 }))).environment.variables.CONVERSATION_DELETE_BUDGET_SECONDS).toBe("1");
  });

  it("writes its own log group with the stack's retention", () => {
    const group = resourcesOf(json, "aws_cloudwatch_log_group").find((g) => g.name === "/aws/lambda/lambda-chat-conversations-dev");
    expect(group.retention_in_days).toBe(1);
  });

  it("is watched like the chat functions (errors, throttles, duration, the error log), without answer alarms", () => {
    const alarms = resourcesOf(json, "aws_cloudwatch_metric_alarm").map((a) => a.alarm_name);
    expect(alarms).toEqual(expect.arrayContaining(["chatbot-dev-conversations-function-errors", "chatbot-dev-conversations-function-throttles", "chatbot-dev-conversations-function-duration-p90"]));
    expect(alarms).not.toContain("chatbot-dev-conversations-answers-5xx-rate");
    const notRunning = resourcesOf(json, "aws_cloudwatch_metric_alarm").find((a) => a.alarm_name === "chatbot-dev-model-not-running");
    expect(JSON.stringify(notRunning.metric_query)).not.toContain("conversations_function");
  });
});

describe("saved conversations: least privilege", () => {
  const all = statementsOf(json);
  const onTable = all.filter((s) => s.Resource.some((r: string) => r.startsWith(TABLE_ARN)));

  it("lets the conversations function read, rename and delete items of this table and query its index, nothing more", () => {
    const statements = policy(byId(json, "aws_iam_role_policy", "conversations_role-policy").policy).Statement;
    expect(statements).toEqual([
      { Sid: "WriteOwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: ["${aws_cloudwatch_log_group.conversations_log-group_A4CC1E25.arn}:*"] },
      { Sid: "ReadRenameDeleteConversations", Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"], Resource: [TABLE_ARN] },
      { Sid: "ListConversationsNewestFirst", Effect: "Allow", Action: ["dynamodb:Query"], Resource: [INDEX_ARN] },
    ]);
    expect(resourcesOf(json, "aws_iam_role_policy").filter((p) => p.role === roleOf(json, "conversations_function"))).toHaveLength(1);
  });

  it.each([["chat", "chat-function"], ["stream", "stream-function"]])("lets the %s function load and save turns on this table only", (_label, functionId) => {
    const mine = onTable.filter((s) => s.role === roleOf(json, functionId));
    expect(mine).toEqual([
      { role: roleOf(json, functionId), Sid: "LoadAndSaveConversations", Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"], Resource: [TABLE_ARN] },
    ]);
  });

  it("gives no other role anything on the table, and no statement a wildcard table or action", () => {
    const roles = new Set(onTable.map((s) => s.role));
    expect([...roles].sort()).toEqual([roleOf(json, "chat-function"), roleOf(json, "stream-function"), roleOf(json, "conversations_function")].sort());
    for (const s of all) {
      expect(s.Action.filter((a: string) => a.startsWith("dynamodb:") && a.includes("*"))).toEqual([]);
      expect(s.Resource.filter((r: string) => /dynamodb.*\*|table\/\*/.test(r))).toEqual([]);
    }
  });

  it("tells the chat and stream functions the table and the retention", () => {
    const retained = synthStack(environmentConfig({ conversationRetentionDays: 7 }));
    for (const id of ["chat-function", "stream-function"]) {
      expect(byId(retained, "aws_lambda_function", id).environment.variables).toMatchObject({
        CONVERSATIONS_TABLE: "${aws_dynamodb_table.conversations_store_table_F6A4FD35.name}",
        CONVERSATION_RETENTION_DAYS: "7",
      });
    }
  });
});

describe("saved conversations: the edge and the page", () => {
  const distribution = only(json, "aws_cloudfront_distribution");
  const behaviour = (pattern: string) => distribution.ordered_cache_behavior.find((b: any) => b.path_pattern === pattern);

  it.each(["/conversations", "/conversations/*"])("sends %s to the REST API with /chat's policies: Authorization forwarded, no caching, every method", (pattern) => {
    expect({ ...behaviour(pattern), path_pattern: "/chat" }).toEqual(behaviour("/chat"));
    expect(behaviour(pattern)).toMatchObject({ target_origin_id: "chat-api", cache_policy_id: "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", origin_request_policy_id: "b689b0a8-53d0-40ab-baf2-68738e2966ac" });
    expect(behaviour(pattern).allowed_methods).toEqual(expect.arrayContaining(["GET", "PATCH", "DELETE"]));
  });

  it("keeps one REST API origin with its read timeout", () => {
    const origins = distribution.origin.filter((o: any) => o.origin_id === "chat-api");
    expect(origins).toHaveLength(1);
    expect(origins[0].custom_origin_config.origin_read_timeout).toBe(30);
  });

  it("counts /conversations and everything below it in the WAF's per-IP rate limit", () => {
    const rule = only(json, "aws_wafv2_web_acl").rule.find((r: any) => r.name === "chat-rate-limit");
    const matches = rule.statement.rate_based_statement.scope_down_statement.or_statement.statement.map((s: any) => [s.byte_match_statement.positional_constraint, s.byte_match_statement.search_string]);
    expect(matches).toEqual(expect.arrayContaining([["EXACTLY", "/conversations"], ["STARTS_WITH", "/conversations/"]]));
  });

  it("tells the page whether the server keeps conversations", () => {
    const config = (j: StackJson) => resourcesOf(j, "aws_s3_object").find((o) => o.key === "auth-config.json").content;
    expect(config(json)).toContain('"conversations" = true');
    expect(config(synthStack(environmentConfig({ conversations: false })))).toContain('"conversations" = false');
  });
});

describe("saved conversations: off", () => {
  it.each([
    ["conversations: false", { conversations: false }],
    ["auth: none", { auth: "none" }],
  ] as const)("leaves every part out with %s", (_label, settings) => {
    const off = synthStack(environmentConfig(settings));
    const text = JSON.stringify(off);
    expect(resourcesOf(off, "aws_dynamodb_table").map((t) => t.name)).not.toContain("chatbot-dev-conversations");
    expect(resourcesOf(off, "aws_lambda_function").map((f) => f.function_name)).not.toContain("lambda-chat-conversations-dev");
    expect(resourcesOf(off, "aws_api_gateway_resource").map((r) => r.path_part)).not.toContain("conversations");
    expect(only(off, "aws_cloudfront_distribution").ordered_cache_behavior.map((b: any) => b.path_pattern)).not.toEqual(expect.arrayContaining(["/conversations"]));
    expect(text).not.toContain("CONVERSATIONS_TABLE");
    expect(text).not.toContain("/conversations");
    expect(off.output!.ConversationsTable).toBeUndefined();
  });

  it("needs conversations_function.py in the package only when conversations are on", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambda-src-"));
    fs.cpSync(FIXTURES.lambdaDir, dir, { recursive: true });
    fs.rmSync(path.join(dir, "conversations_function.py"));
    const sources = { ...FIXTURES, lambdaDir: dir };
    expect(() => synthStack(environmentConfig(), sources)).toThrow(/has no conversations_function\.py/);
    expect(() => synthStack(environmentConfig({ conversations: false }), sources)).not.toThrow();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
