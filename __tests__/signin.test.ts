import { withConnectOrigins } from "../stacks/site-hosting";
import { StackJson, byId, environmentConfig, only, resourcesOf, synthStack } from "./helpers";

const json: StackJson = synthStack();
const REF = (type: string, attr = "") => new RegExp(`\\$\\{${type}\\.[\\w-]+\\.${attr}`);
const CLOUDFRONT_PAGE = /^https:\/\/\$\{aws_cloudfront_distribution\.[\w-]+\.domain_name\}\/chat\.html$/;

describe("sign-in: the user pool", () => {
  it("signs people in with their verified e-mail address, invite-only by default", () => {
    expect(only(json, "aws_cognito_user_pool")).toMatchObject({
      name: "chatbot-dev",
      username_attributes: ["email"],
      auto_verified_attributes: ["email"],
      username_configuration: { case_sensitive: false },
      admin_create_user_config: { allow_admin_create_user_only: true },
      account_recovery_setting: { recovery_mechanism: [{ name: "verified_email", priority: 1 }] },
      mfa_configuration: "OFF",
      deletion_protection: "INACTIVE",
      user_pool_tier: "LITE",
    });
  });

  it("requires a password of 12 characters with lower and upper case letters and digits", () => {
    expect(only(json, "aws_cognito_user_pool").password_policy).toEqual({
      minimum_length: 12, require_lowercase: true, require_uppercase: true, require_numbers: true, require_symbols: false, temporary_password_validity_days: 7,
    });
  });

  it("protects the pool from deletion where asked, and turns on TOTP for MFA", () => {
    const pool = only(synthStack(environmentConfig({ userPoolDeletionProtection: true, mfa: "required" })), "aws_cognito_user_pool");
    expect(pool).toMatchObject({ deletion_protection: "ACTIVE", mfa_configuration: "ON", software_token_mfa_configuration: { enabled: true } });
    expect(only(synthStack(environmentConfig({ mfa: "optional" })), "aws_cognito_user_pool").mfa_configuration).toBe("OPTIONAL");
  });

  it("lets people sign up themselves only with selfSignUp", () => {
    expect(only(synthStack(environmentConfig({ selfSignUp: true })), "aws_cognito_user_pool").admin_create_user_config).toEqual({ allow_admin_create_user_only: false });
  });

  it("has an admin group (no daily allowance)", () => {
    expect(only(json, "aws_cognito_user_group")).toMatchObject({ name: "admin", user_pool_id: expect.stringMatching(REF("aws_cognito_user_pool", "id")) });
  });
});

describe("sign-in: the page's app client", () => {
  const client = only(json, "aws_cognito_user_pool_client");

  it("is a public client: no secret, the authorization-code grant only, scopes openid and email", () => {
    expect(client).toMatchObject({
      generate_secret: false,
      allowed_oauth_flows_user_pool_client: true,
      allowed_oauth_flows: ["code"],
      allowed_oauth_scopes: ["openid", "email"],
      supported_identity_providers: ["COGNITO"],
      explicit_auth_flows: ["ALLOW_REFRESH_TOKEN_AUTH"],
    });
  });

  it("revokes tokens and hides whether an account exists", () => {
    expect(client).toMatchObject({ enable_token_revocation: true, prevent_user_existence_errors: "ENABLED" });
  });

  it("returns to exactly the page on the CloudFront domain after sign-in and sign-out", () => {
    expect(client.callback_urls).toEqual([expect.stringMatching(CLOUDFRONT_PAGE)]);
    expect(client.logout_urls).toEqual(client.callback_urls);
  });

  it("adds exactly the page on the custom domain", () => {
    const zoned = only(synthStack(environmentConfig({ domainName: "chat.example.com", hostedZoneId: "Z0123456789ABCDEFGHIJ" })), "aws_cognito_user_pool_client");
    expect(zoned.callback_urls).toEqual([expect.stringMatching(CLOUDFRONT_PAGE), "https://chat.example.com/chat.html"]);
    expect(zoned.logout_urls).toEqual(zoned.callback_urls);
  });

  it("takes the token lifetimes from the configuration", () => {
    const tuned = only(synthStack(environmentConfig({ tokenValidityMinutes: 15, refreshTokenValidityDays: 7 })), "aws_cognito_user_pool_client");
    expect(tuned).toMatchObject({ id_token_validity: 15, access_token_validity: 15, refresh_token_validity: 7, token_validity_units: [{ id_token: "minutes", access_token: "minutes", refresh_token: "days" }] });
  });
});

describe("sign-in: the domain and the trigger", () => {
  it("uses the classic hosted UI on the configured prefix", () => {
    expect(only(json, "aws_cognito_user_pool_domain")).toMatchObject({ domain: "falcon-chatbot-dev", managed_login_version: 1 });
  });

  it("has no pre-sign-up trigger without allowedEmailDomains", () => {
    expect(only(json, "aws_cognito_user_pool").lambda_config).toBeUndefined();
    expect(resourcesOf(json, "aws_lambda_function").map((f) => f.function_name)).not.toContain("chatbot-pre-sign-up-dev");
  });

  describe("with allowedEmailDomains", () => {
    const limited = synthStack(environmentConfig({ selfSignUp: true, allowedEmailDomains: ["Example.com"] }));
    const trigger = byId(limited, "aws_lambda_function", "sign-in_user-pool_trigger");

    it("runs a pre-sign-up trigger that knows the allowed domains in lower case", () => {
      expect(trigger).toMatchObject({ function_name: "chatbot-pre-sign-up-dev", handler: "identity.pre_sign_up.lambda_handler", environment: { variables: { ALLOWED_EMAIL_DOMAINS: '["example.com"]' } } });
      expect(only(limited, "aws_cognito_user_pool").lambda_config).toEqual({ pre_sign_up: expect.stringMatching(REF("aws_lambda_function", "arn")) });
    });

    it("lets only this pool invoke the trigger", () => {
      const permission = resourcesOf(limited, "aws_lambda_permission").find((p) => p.principal === "cognito-idp.amazonaws.com");
      expect(permission).toMatchObject({ action: "lambda:InvokeFunction", source_arn: expect.stringMatching(REF("aws_cognito_user_pool", "arn")) });
    });

    it("gives the trigger its own log group with the stack's retention and a role that may only write to it", () => {
      const group = resourcesOf(limited, "aws_cloudwatch_log_group").find((g) => g.name === "/aws/lambda/chatbot-pre-sign-up-dev");
      expect(group.retention_in_days).toBe(1);
      const statements = JSON.parse(byId(limited, "aws_iam_role_policy", "trigger-role-policy").policy).Statement;
      expect(statements).toEqual([{ Sid: "WriteOwnLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [expect.stringMatching(/:\*$/)] }]);
    });
  });
});

describe("sign-in: the REST API", () => {
  const methods = resourcesOf(json, "aws_api_gateway_method");

  it("requires a Cognito ID token on every method", () => {
    const authorizer = only(json, "aws_api_gateway_authorizer");
    expect(authorizer).toMatchObject({ type: "COGNITO_USER_POOLS", identity_source: "method.request.header.Authorization", provider_arns: [expect.stringMatching(REF("aws_cognito_user_pool", "arn"))] });
    expect(methods.length).toBeGreaterThanOrEqual(2);
    for (const m of methods) expect(m).toMatchObject({ authorization: "COGNITO_USER_POOLS", authorizer_id: expect.stringMatching(REF("aws_api_gateway_authorizer", "id")), api_key_required: true });
  });

  it("adds POST /chat/ticket under /chat", () => {
    const ticket = resourcesOf(json, "aws_api_gateway_resource").find((r) => r.path_part === "ticket");
    expect(ticket.parent_id).toMatch(REF("aws_api_gateway_resource", "id"));
    expect(byId(json, "aws_api_gateway_method", "ticket-post-method").http_method).toBe("POST");
  });

  it("tells the function the caller only from the authorizer's claims, and refuses bodies that skip the template", () => {
    for (const id of ["post-integration", "ticket-post-integration"]) {
      const integration = byId(json, "aws_api_gateway_integration", `chat-api_${id}`);
      expect(integration.passthrough_behavior).toBe("NEVER");
      const template = integration.request_templates["application/json"];
      expect(template).toContain('"sub": "$util.escapeJavaScript($context.authorizer.claims.sub)"');
      expect(template).toContain("$context.authorizer.claims['cognito:groups']");
    }
    expect(byId(json, "aws_api_gateway_integration", "chat-api_post-integration").request_templates["application/json"]).toMatch(/^\{"body": \$input\.json\('\$'\), "caller"/);
  });

  it("answers a missing or invalid token with API Gateway's 401 in the {message, reason} shape", () => {
    const unauthorized = resourcesOf(json, "aws_api_gateway_gateway_response").find((r) => r.response_type === "UNAUTHORIZED");
    expect(unauthorized.response_templates["application/json"]).toBe('{"message":$context.error.messageString,"reason":"unauthorized"}');
  });

  it("turns an error's [429:daily_allowance] prefix into a reason field of the body", () => {
    const r429 = byId(json, "aws_api_gateway_integration_response", "chat-api_integration-response-429");
    expect(r429.response_templates["application/json"]).toContain('"reason": "$util.escapeJavaScript($reason)"');
    expect(r429.response_templates["application/json"]).toContain('$raw.startsWith("[429:")');
  });

  it("shows how to send a token in the curl example", () => {
    expect(json.output!.CurlExample.value).toContain('-H "Authorization: $ID_TOKEN"');
    expect(json.output!.UserPoolId.value).toMatch(REF("aws_cognito_user_pool", "id"));
  });
});

describe("sign-in: the edge", () => {
  const distribution = only(json, "aws_cloudfront_distribution");

  it("sends /chat/* to the REST API with the same policies as /chat, one origin for both", () => {
    const behaviours = distribution.ordered_cache_behavior;
    // Saved conversations (on with sign-in) add theirs after these (conversations.test.ts).
    expect(behaviours.map((b: any) => b.path_pattern)).toEqual(["/chat", "/chat/*", "/stream", "/conversations", "/conversations/*"]);
    const [chat, sub] = behaviours;
    expect({ ...sub, path_pattern: "/chat" }).toEqual(chat);
    expect(distribution.origin.filter((o: any) => o.origin_id === "chat-api")).toHaveLength(1);
  });

  it("forwards Authorization to the APIs through the AllViewerExceptHostHeader policy with caching disabled", () => {
    for (const b of distribution.ordered_cache_behavior) {
      expect(b).toMatchObject({ origin_request_policy_id: "b689b0a8-53d0-40ab-baf2-68738e2966ac", cache_policy_id: "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" });
    }
  });

  it("rate-limits /chat/* in the WAF as well as /chat and /stream", () => {
    const acl = only(json, "aws_wafv2_web_acl");
    const rule = acl.rule.find((r: any) => r.name === "chat-rate-limit");
    const matches = rule.statement.rate_based_statement.scope_down_statement.or_statement.statement.map((s: any) => [s.byte_match_statement.positional_constraint, s.byte_match_statement.search_string]);
    expect(matches.slice(0, 3)).toEqual([["EXACTLY", "/chat"], ["STARTS_WITH", "/chat/"], ["EXACTLY", "/stream"]]);
  });

  it("keeps the site-wide usage plan as a backstop far above one person's allowance", () => {
    const withoutConversations = synthStack(environmentConfig({ conversations: false }));
    expect(only(withoutConversations, "aws_api_gateway_usage_plan").quota_settings).toMatchObject({ limit: 100000, period: "DAY" });
  });
});

describe("sign-in: the page", () => {
  it("adds exactly the sign-in origin to the CSP's connect-src", () => {
    const page = resourcesOf(json, "aws_s3_object").find((o) => o.key === "chat.html");
    expect(page.content).toContain("connect-src 'self' https://falcon-chatbot-dev.auth.ap-northeast-2.amazoncognito.com");
    expect(page.content.match(/amazoncognito\.com/g)).toHaveLength(1);
    expect(page.content).toContain('<meta name="falcon-sign-in" content="auth-config.json">\n</head>');
  });

  it("refuses a page whose CSP has no connect-src", () => {
    expect(() => withConnectOrigins("<html></html>", ["https://x"])).toThrow(/no Content-Security-Policy with connect-src/);
  });

  it("writes the client id and sign-in origin next to the page", () => {
    const config = resourcesOf(json, "aws_s3_object").find((o) => o.key === "auth-config.json");
    expect(config.content).toMatch(/^\$\{jsonencode\(/);
    expect(config.content).toContain("aws_cognito_user_pool_client.");
    expect(config.content).toContain('"signInOrigin" = "https://falcon-chatbot-dev.auth.ap-northeast-2.amazoncognito.com"');
  });
});

describe("sign-in: tickets and the allowance", () => {
  it("keeps tickets (by hash, with a TTL) and daily usage (person and UTC day in the key, with a TTL)", () => {
    const tables = Object.fromEntries(resourcesOf(json, "aws_dynamodb_table").map((t) => [t.name, t]));
    expect(tables["chatbot-dev-tickets"]).toMatchObject({ hash_key: "ticket_hash", billing_mode: "PAY_PER_REQUEST", ttl: { attribute_name: "expires_at", enabled: true } });
    expect(tables["chatbot-dev-daily-usage"]).toMatchObject({ hash_key: "user_id", range_key: "day", ttl: { attribute_name: "expires_at", enabled: true } });
  });

  it("tells both functions the tables and the allowance", () => {
    for (const id of ["chat-function", "stream-function"]) {
      const vars = byId(json, "aws_lambda_function", id).environment.variables;
      expect(vars).toMatchObject({ AUTH: "cognito", DAILY_ANSWERS_PER_USER: "200", TICKET_TTL_SECONDS: "60", ADMIN_GROUP: "admin" });
      expect(vars.USAGE_TABLE).toMatch(REF("aws_dynamodb_table", "name"));
      expect(vars.TICKETS_TABLE).toMatch(REF("aws_dynamodb_table", "name"));
    }
    expect(byId(synthStack(environmentConfig({ dailyAnswersPerUser: 0 })), "aws_lambda_function", "chat-function").environment.variables.DAILY_ANSWERS_PER_USER).toBe("0");
  });

  it("lets the REST function only mint tickets and count answers", () => {
    expect(JSON.parse(byId(json, "aws_iam_role_policy", "sign-in_chat-function-policy").policy).Statement).toEqual([
      { Sid: "MintTickets", Effect: "Allow", Action: ["dynamodb:PutItem"], Resource: [expect.stringMatching(REF("aws_dynamodb_table", "arn"))] },
      { Sid: "CountDailyAnswers", Effect: "Allow", Action: ["dynamodb:UpdateItem"], Resource: [expect.stringMatching(REF("aws_dynamodb_table", "arn"))] },
    ]);
  });

  it("lets the stream function consume tickets, count answers and close its own connections", () => {
    const statements = JSON.parse(byId(json, "aws_iam_role_policy", "sign-in_stream-function-policy").policy).Statement;
    expect(statements.map((s: any) => [s.Sid, s.Action])).toEqual([
      ["ConsumeTickets", ["dynamodb:DeleteItem"]],
      ["CountDailyAnswers", ["dynamodb:UpdateItem"]],
      ["ReadConnectionCaller", ["dynamodb:GetItem"]],
      ["CloseExpiredConnections", ["execute-api:ManageConnections"]],
    ]);
    expect(statements[3].Resource).toEqual([expect.stringMatching(/^\$\{aws_apigatewayv2_api\.[\w-]+\.execution_arn\}\/stream\/DELETE\/@connections\/\*$/)]);
  });

  it("lets the stream's failure notice refund the answer of a dropped stream job, and nothing else", () => {
    const usageArn = "${aws_dynamodb_table.sign-in_identity-store_usage-table_140552B2.arn}";
    expect(JSON.parse(byId(json, "aws_iam_role_policy", "sign-in_failure-notice-policy").policy).Statement).toEqual([
      { Sid: "RefundDroppedAnswers", Effect: "Allow", Action: ["dynamodb:UpdateItem"], Resource: [usageArn] },
    ]);
    const notice = byId(json, "aws_lambda_function", "failure-notice_function");
    expect(notice.environment.variables.USAGE_TABLE).toBe("${aws_dynamodb_table.sign-in_identity-store_usage-table_140552B2.name}");
    const open = synthStack(environmentConfig({ auth: "none" }));
    expect(byId(open, "aws_lambda_function", "failure-notice_function").environment.variables.USAGE_TABLE).toBeUndefined();
  });

  it("needs no tickets without streaming", () => {
    const off = synthStack(environmentConfig({ streaming: false, conversations: false }));
    expect(resourcesOf(off, "aws_dynamodb_table").map((t) => t.name)).toEqual(["chatbot-dev-daily-usage"]);
    expect(resourcesOf(off, "aws_api_gateway_resource").map((r) => r.path_part)).toEqual(["chat"]);
  });
});

describe("auth: none", () => {
  const open = synthStack(environmentConfig({ auth: "none" }));

  it("synthesizes today's open stack: no pool, authorizer, tables of sign-in, /chat/* or page config", () => {
    for (const type of ["aws_cognito_user_pool", "aws_cognito_user_pool_client", "aws_cognito_user_pool_domain", "aws_api_gateway_authorizer"]) {
      expect({ type, count: resourcesOf(open, type).length }).toEqual({ type, count: 0 });
    }
    expect(resourcesOf(open, "aws_dynamodb_table").map((t) => t.name)).toEqual(["api-chatbot-stream-dev-connections"]);
    expect(only(open, "aws_cloudfront_distribution").ordered_cache_behavior.map((b: any) => b.path_pattern)).toEqual(["/chat", "/stream"]);
    expect(resourcesOf(open, "aws_s3_object").map((o) => o.key)).not.toContain("auth-config.json");
    expect(resourcesOf(open, "aws_s3_object").find((o) => o.key === "chat.html").content).toBeUndefined(); // uploaded as it is
    expect(resourcesOf(open, "aws_api_gateway_method").map((m) => m.authorization)).toEqual(["NONE"]);
    expect(byId(open, "aws_lambda_function", "chat-function").environment.variables.AUTH).toBeUndefined();
  });
});
