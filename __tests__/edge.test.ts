import edgeResponses from "../contract/edge-responses.json";
import { COUNTED_BODY_RULES } from "../stacks/edge/web-firewall";
import { StackJson, byId, environmentConfig, only, resourcesOf, synthStack } from "./helpers";

const ZONE = "Z0123456789ABCDEFGHIJ";
const CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012";
const REF = (type: string, attribute: string) => new RegExp(`^\\$\\{${type}\\.[\\w-]+\\.${attribute}\\}$`);

// The open site (auth: none); signin.test.ts covers what sign-in adds to the edge.
const json = synthStack(environmentConfig({ auth: "none" }));
const acl = () => only(json, "aws_wafv2_web_acl");
const rule = (doc: StackJson, name: string) => only(doc, "aws_wafv2_web_acl").rule.find((r: any) => r.name === name);
const distribution = (doc: StackJson = json) => only(doc, "aws_cloudfront_distribution");
const pathMatch = (path: string) => ({
  byte_match_statement: { field_to_match: { uri_path: {} }, positional_constraint: "EXACTLY", search_string: path, text_transformation: [{ priority: 0, type: "NONE" }] },
});

describe("WebFirewall", () => {
  it("creates a CLOUDFRONT-scope web ACL through the us-east-1 provider, allowing by default, with metrics and samples", () => {
    expect(json.provider!.aws.find((p: any) => p.alias === "us_east_1")).toMatchObject({ region: "us-east-1" });
    expect(acl()).toMatchObject({
      provider: "aws.us_east_1",
      name: "chatbot-dev",
      scope: "CLOUDFRONT",
      default_action: { allow: {} },
      visibility_config: { cloudwatch_metrics_enabled: true, sampled_requests_enabled: true, metric_name: "chatbot-dev" },
    });
    for (const r of acl().rule) expect(r.visibility_config).toEqual({ cloudwatch_metrics_enabled: true, sampled_requests_enabled: true, metric_name: `chatbot-dev-${r.name}` });
  });

  it("is attached to the distribution", () => {
    expect(distribution().web_acl_id).toMatch(REF("aws_wafv2_web_acl", "arn"));
  });

  it("runs the IP reputation list, the rate limit, the common rule set and the known-bad-inputs set, in that order", () => {
    expect(acl().rule.map((r: any) => [r.priority, r.name])).toEqual([
      [0, "aws-ip-reputation"],
      [1, "chat-rate-limit"],
      [2, "aws-common"],
      [3, "aws-known-bad-inputs"],
    ]);
    for (const name of ["aws-ip-reputation", "aws-common", "aws-known-bad-inputs"]) expect(rule(json, name).override_action).toEqual({ none: {} });
  });

  it("limits each IP on the chat paths only, counting requests over 5 minutes", () => {
    expect(rule(json, "chat-rate-limit").statement).toEqual({
      rate_based_statement: {
        limit: 100,
        aggregate_key_type: "IP",
        evaluation_window_sec: 300,
        scope_down_statement: { or_statement: { statement: [pathMatch("/chat"), pathMatch("/stream")] } },
      },
    });
    const noStream = synthStack(environmentConfig({ auth: "none", streaming: false, wafRateLimit: 30 }));
    expect(rule(noStream, "chat-rate-limit").statement.rate_based_statement).toMatchObject({ limit: 30, scope_down_statement: pathMatch("/chat") });
  });

  it("answers the rate limit with 429 and the {message, reason} body of contract/edge-responses.json", () => {
    expect(rule(json, "chat-rate-limit").action).toEqual({ block: { custom_response: { response_code: 429, custom_response_body_key: "too-many-requests" } } });
    const bodies = Object.fromEntries(acl().custom_response_body.map((b: any) => [b.key, b]));
    expect(bodies["too-many-requests"]).toEqual({ key: "too-many-requests", content_type: "APPLICATION_JSON", content: JSON.stringify({ message: edgeResponses.tooManyRequests.message, reason: "rate_limited" }) });
    expect(bodies.forbidden).toEqual({ key: "forbidden", content_type: "APPLICATION_JSON", content: JSON.stringify({ message: edgeResponses.forbidden.message, reason: "not_allowed" }) });
  });

  it("uses AWS's three managed groups, counting the common set's body rules so normal chat bodies pass", () => {
    const groups = Object.fromEntries(["aws-ip-reputation", "aws-common", "aws-known-bad-inputs"].map((name) => [name, rule(json, name).statement.managed_rule_group_statement]));
    expect(groups["aws-ip-reputation"]).toEqual({ name: "AWSManagedRulesAmazonIpReputationList", vendor_name: "AWS", rule_action_override: [] });
    expect(groups["aws-known-bad-inputs"]).toEqual({ name: "AWSManagedRulesKnownBadInputsRuleSet", vendor_name: "AWS", rule_action_override: [] });
    expect(groups["aws-common"].name).toBe("AWSManagedRulesCommonRuleSet");
    expect(groups["aws-common"].rule_action_override).toEqual(COUNTED_BODY_RULES.map((name) => ({ name, action_to_use: { count: {} } })));
    // A 4,000-character Korean message alone is about 12 KB: over SizeRestrictions_BODY's 8 KB.
    expect(Buffer.byteLength(JSON.stringify({ text: "한".repeat(4000) }))).toBeGreaterThan(8 * 1024);
    expect(COUNTED_BODY_RULES).toContain("SizeRestrictions_BODY");
  });

  it("blocks addresses outside allowedIpRanges with 403, one IP set per address family", () => {
    const listed = synthStack(environmentConfig({ allowedIpRanges: ["203.0.113.0/24", "2001:db8::/32"] }));
    const sets = resourcesOf(listed, "aws_wafv2_ip_set");
    expect(sets.map((s) => [s.ip_address_version, s.addresses, s.scope, s.provider])).toEqual([
      ["IPV4", ["203.0.113.0/24"], "CLOUDFRONT", "aws.us_east_1"],
      ["IPV6", ["2001:db8::/32"], "CLOUDFRONT", "aws.us_east_1"],
    ]);
    const allow = rule(listed, "allowed-ip-ranges");
    expect(allow.priority).toBe(0);
    expect(allow.action).toEqual({ block: { custom_response: { response_code: 403, custom_response_body_key: "forbidden" } } });
    expect(allow.statement).toEqual({
      not_statement: {
        statement: {
          or_statement: {
            statement: [
              { ip_set_reference_statement: { arn: expect.stringMatching(REF("aws_wafv2_ip_set", "arn")) } },
              { ip_set_reference_statement: { arn: expect.stringMatching(REF("aws_wafv2_ip_set", "arn")) } },
            ],
          },
        },
      },
    });
    const v4only = rule(synthStack(environmentConfig({ allowedIpRanges: ["198.51.100.7/32"] })), "allowed-ip-ranges");
    expect(v4only.statement).toEqual({ not_statement: { statement: { ip_set_reference_statement: { arn: expect.stringMatching(REF("aws_wafv2_ip_set", "arn")) } } } });
  });

  it("blocks countries outside allowedCountries with 403", () => {
    const listed = synthStack(environmentConfig({ allowedCountries: ["KR", "JP"] }));
    expect(rule(listed, "allowed-countries")).toMatchObject({
      priority: 0,
      action: { block: { custom_response: { response_code: 403, custom_response_body_key: "forbidden" } } },
      statement: { not_statement: { statement: { geo_match_statement: { country_codes: ["KR", "JP"] } } } },
    });
  });

  it("leaves the web ACL out when waf is off", () => {
    const off = synthStack(environmentConfig({ waf: false }));
    expect(resourcesOf(off, "aws_wafv2_web_acl")).toEqual([]);
    expect(distribution(off).web_acl_id).toBeUndefined();
  });
});

describe("OriginKey (CloudFront-only APIs)", () => {
  it("lets AWS generate the key: no value in the code or the synthesized JSON", () => {
    const key = only(json, "aws_api_gateway_api_key");
    expect(key).toMatchObject({ name: "chatbot-dev-cloudfront", enabled: true, lifecycle: { create_before_destroy: true } });
    expect(key.value).toBeUndefined();
    // The only mentions of the key's value are references to it.
    const mentions = JSON.stringify(json).match(/[^"]*aws_api_gateway_api_key[^"]*\.value[^"]*/g) ?? [];
    expect(mentions.length).toBeGreaterThan(0);
    for (const m of mentions) expect(m).toMatch(/^\$\{aws_api_gateway_api_key\.[\w-]+\.value\}$/);
  });

  it("has CloudFront send the key to both API origins as x-api-key", () => {
    const origins = distribution().origin.filter((o: any) => ["chat-api", "chat-stream"].includes(o.origin_id));
    expect(origins).toHaveLength(2);
    for (const o of origins) expect(o.custom_header).toEqual([{ name: "x-api-key", value: expect.stringMatching(REF("aws_api_gateway_api_key", "value")) }]);
    expect(distribution().origin.find((o: any) => o.origin_id === "site-bucket").custom_header).toBeUndefined();
  });

  it("requires the key on POST /chat and on the WebSocket's $connect", () => {
    expect(only(json, "aws_api_gateway_method").api_key_required).toBe(true);
    expect(resourcesOf(json, "aws_apigatewayv2_route").find((r) => r.route_key === "$connect").api_key_required).toBe(true);
  });

  it("binds the key to both stages through a usage plan with a daily quota and a rate", () => {
    const plan = only(json, "aws_api_gateway_usage_plan");
    expect(plan).toMatchObject({
      name: "chatbot-dev-cloudfront",
      quota_settings: { limit: 10000, period: "DAY" },
      throttle_settings: { rate_limit: 10, burst_limit: 20 },
    });
    expect(plan.api_stages).toEqual([
      { api_id: expect.stringMatching(REF("aws_api_gateway_rest_api", "id")), stage: expect.stringMatching(REF("aws_api_gateway_stage", "stage_name")) },
      { api_id: expect.stringMatching(REF("aws_apigatewayv2_api", "id")), stage: expect.stringMatching(REF("aws_apigatewayv2_stage", "name")) },
    ]);
    expect(only(json, "aws_api_gateway_usage_plan_key")).toMatchObject({
      key_type: "API_KEY",
      key_id: expect.stringMatching(REF("aws_api_gateway_api_key", "id")),
      usage_plan_id: expect.stringMatching(REF("aws_api_gateway_usage_plan", "id")),
    });
  });

  it("drops the quota, not the key, when dailyRequestQuota is 0", () => {
    const plan = only(synthStack(environmentConfig({ dailyRequestQuota: 0 })), "aws_api_gateway_usage_plan");
    expect(plan.quota_settings).toBeUndefined();
    expect(plan.throttle_settings).toBeDefined();
  });

  it("leaves the key, the plan and the header out when cloudFrontOnly is off", () => {
    const open = synthStack(environmentConfig({ auth: "none", cloudFrontOnly: false }));
    for (const type of ["aws_api_gateway_api_key", "aws_api_gateway_usage_plan", "aws_api_gateway_usage_plan_key"]) expect(resourcesOf(open, type)).toEqual([]);
    expect(only(open, "aws_api_gateway_method").api_key_required).toBe(false);
    expect(distribution(open).origin.every((o: any) => o.custom_header === undefined)).toBe(true);
  });
});

describe("CustomDomain", () => {
  const zoned = synthStack(environmentConfig({ domainName: "chat.example.com", hostedZoneId: ZONE }));

  it("requests a DNS-validated certificate for the name in us-east-1", () => {
    expect(only(zoned, "aws_acm_certificate")).toMatchObject({
      provider: "aws.us_east_1",
      domain_name: "chat.example.com",
      validation_method: "DNS",
      lifecycle: { create_before_destroy: true },
    });
  });

  it("validates it through a record in the hosted zone, and CloudFront waits for the validation", () => {
    const record = byId(zoned, "aws_route53_record", "validation-record");
    expect(record).toMatchObject({ zone_id: ZONE, ttl: 300, allow_overwrite: true });
    expect(record.name).toMatch(/^\$\{one\(tolist\(aws_acm_certificate\.[\w-]+\.domain_validation_options\)\)\.resource_record_name\}$/);
    expect(only(zoned, "aws_acm_certificate_validation")).toMatchObject({
      provider: "aws.us_east_1",
      certificate_arn: expect.stringMatching(REF("aws_acm_certificate", "arn")),
      validation_record_fqdns: [expect.stringMatching(REF("aws_route53_record", "fqdn"))],
    });
    expect(distribution(zoned).viewer_certificate.acm_certificate_arn).toMatch(REF("aws_acm_certificate_validation", "certificate_arn"));
  });

  it("points A and AAAA alias records at the distribution", () => {
    for (const type of ["a", "aaaa"]) {
      expect(byId(zoned, "aws_route53_record", `alias-${type}`)).toMatchObject({
        zone_id: ZONE,
        name: "chat.example.com",
        type: type.toUpperCase(),
        alias: { name: expect.stringMatching(REF("aws_cloudfront_distribution", "domain_name")), zone_id: expect.stringMatching(REF("aws_cloudfront_distribution", "hosted_zone_id")), evaluate_target_health: false },
      });
    }
  });

  it("serves the name with SNI and TLS 1.2 as the minimum viewer protocol", () => {
    expect(distribution(zoned).aliases).toEqual(["chat.example.com"]);
    expect(distribution(zoned).viewer_certificate).toEqual({ acm_certificate_arn: expect.any(String), ssl_support_method: "sni-only", minimum_protocol_version: "TLSv1.2_2021" });
    expect(distribution().viewer_certificate).toEqual({ cloudfront_default_certificate: true });
  });

  it("uses an existing certificate as given, requesting none and adding no records", () => {
    const existing = synthStack(environmentConfig({ domainName: "chat.example.com", certificateArn: CERTIFICATE }));
    expect(resourcesOf(existing, "aws_acm_certificate")).toEqual([]);
    expect(resourcesOf(existing, "aws_route53_record")).toEqual([]);
    expect(distribution(existing).viewer_certificate.acm_certificate_arn).toBe(CERTIFICATE);
  });

  it("puts the custom name in the outputs and lets its origin open the WebSocket", () => {
    expect(zoned.output!.WebUrl.value).toBe("https://chat.example.com/chat.html");
    expect(zoned.output!.CurlExample.value).toMatch(/^curl -s -X POST https:\/\/chat\.example\.com\/chat /);
    expect(zoned.output!.StreamUrl.value).toBe("wss://chat.example.com/stream");
    const origins = JSON.parse(byId(zoned, "aws_lambda_function", "stream-function").environment.variables.ALLOWED_ORIGINS);
    expect(origins).toEqual([expect.stringMatching(/^https:\/\/\$\{aws_cloudfront_distribution\.[\w-]+\.domain_name\}$/), "https://chat.example.com"]);
  });
});
