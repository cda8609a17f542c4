import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Wafv2IpSet } from "@cdktf/provider-aws/lib/wafv2-ip-set";
import { Wafv2WebAcl, Wafv2WebAclRule } from "@cdktf/provider-aws/lib/wafv2-web-acl";
import { Construct } from "constructs";
import edgeResponses from "../../contract/edge-responses.json";
import { ipFamily } from "../config/edge-settings";

/** Options of {@link WebFirewall}. */
export interface WebFirewallOptions {
  /** Name of the web ACL and prefix of its rules' metrics, e.g. `chatbot-dev`. */
  readonly name: string;
  /** An AWS provider for us-east-1: a CLOUDFRONT-scope web ACL lives there. */
  readonly usEast1: AwsProvider;
  /** Paths whose requests count against the per-IP rate limit (exact match), e.g. `/chat`, `/stream`. */
  readonly rateLimitedPaths: readonly string[];
  /** Requests per 5 minutes one IP may send to those paths. @default 100 */
  readonly rateLimit?: number;
  /** Only these CIDRs may use the site. @default everyone */
  readonly allowedIpRanges?: readonly string[];
  /** Only these countries (ISO alpha-2) may use the site. @default everyone */
  readonly allowedCountries?: readonly string[];
}

/** Keys of the ACL's custom response bodies. */
const TOO_MANY_REQUESTS = "too-many-requests";
const FORBIDDEN = "forbidden";

/**
 * The AWS common rule set's rules that inspect the request body. A chat body is free text
 * that only the model reads (the page shows it as text), so code-like text is not an
 * attack here, and a 4,000-character message with history is well over the 8 KB
 * SizeRestrictions_BODY allows (Korean takes 3 bytes a character). They count instead of
 * block; API Gateway's request schema still bounds every field.
 */
export const COUNTED_BODY_RULES = ["SizeRestrictions_BODY", "CrossSiteScripting_BODY", "GenericLFI_BODY", "GenericRFI_BODY", "EC2MetaDataSSRF_BODY"];

/**
 * A WAF web ACL for the distribution: allow-lists (when given), AWS's IP reputation list,
 * a per-IP rate limit on the chat paths only (static files never count) that answers
 * 429 with the `{"message": ...}` body every other limit uses, and AWS's common and
 * known-bad-inputs rule sets. Metrics and sampled requests are on for every rule.
 */
export class WebFirewall extends Construct {
  public readonly webAcl: Wafv2WebAcl;
  /** Metric names of the ACL and its rules (CloudWatch namespace AWS/WAFV2, region us-east-1). */
  public readonly metricNames: { readonly acl: string; readonly rules: readonly string[] };

  constructor(scope: Construct, id: string, options: WebFirewallOptions) {
    super(scope, id);
    const { name, usEast1 } = options;
    if (options.rateLimitedPaths.length === 0) throw new Error("WebFirewall needs at least one rate-limited path");

    const rules: Wafv2WebAclRule[] = [];
    const rule = (ruleName: string, body: Omit<Wafv2WebAclRule, "name" | "priority" | "visibilityConfig">) =>
      rules.push({ name: ruleName, priority: rules.length, visibilityConfig: visibility(`${name}-${ruleName}`), ...body });
    const block403 = { block: { customResponse: { responseCode: edgeResponses.forbidden.statusCode, customResponseBodyKey: FORBIDDEN } } };

    const ranges = options.allowedIpRanges ?? [];
    if (ranges.length > 0) {
      const sets = (["IPV4", "IPV6"] as const)
        .map((family) => ({ family, addresses: ranges.filter((r) => ipFamily(r) === family) }))
        .filter(({ addresses }) => addresses.length > 0)
        .map(({ family, addresses }) =>
          new Wafv2IpSet(this, `allowed-${family.toLowerCase()}`, {
            provider: usEast1,
            name: `${name}-allowed-${family.toLowerCase()}`,
            description: "Addresses allowed to use the chatbot (allowedIpRanges)",
            scope: "CLOUDFRONT",
            ipAddressVersion: family,
            addresses: [...addresses],
          }),
        );
      const inSet = sets.map((set) => ({ ip_set_reference_statement: { arn: set.arn } }));
      rule("allowed-ip-ranges", { action: block403, statement: not(inSet.length === 1 ? inSet[0] : { or_statement: { statement: inSet } }) });
    }
    const countries = options.allowedCountries ?? [];
    if (countries.length > 0) {
      rule("allowed-countries", { action: block403, statement: not({ geo_match_statement: { country_codes: [...countries] } }) });
    }

    rule("aws-ip-reputation", { overrideAction: { none: {} }, statement: managedGroup("AWSManagedRulesAmazonIpReputationList") });
    // A CloudFront pattern "/chat/*" is every path starting with "/chat/"; others are exact.
    const pathMatches = options.rateLimitedPaths.map((path) => ({
      byte_match_statement: {
        field_to_match: { uri_path: {} },
        positional_constraint: path.endsWith("/*") ? "STARTS_WITH" : "EXACTLY",
        search_string: path.endsWith("/*") ? path.slice(0, -1) : path,
        text_transformation: [{ priority: 0, type: "NONE" }],
      },
    }));
    rule("chat-rate-limit", {
      action: { block: { customResponse: { responseCode: edgeResponses.tooManyRequests.statusCode, customResponseBodyKey: TOO_MANY_REQUESTS } } },
      statement: {
        rate_based_statement: {
          limit: options.rateLimit ?? 100,
          aggregate_key_type: "IP",
          evaluation_window_sec: 300,
          // Only the chat paths count: loading the page and its files never does.
          scope_down_statement: pathMatches.length === 1 ? pathMatches[0] : { or_statement: { statement: pathMatches } },
        },
      },
    });
    rule("aws-common", {
      overrideAction: { none: {} },
      statement: managedGroup("AWSManagedRulesCommonRuleSet", COUNTED_BODY_RULES),
    });
    rule("aws-known-bad-inputs", { overrideAction: { none: {} }, statement: managedGroup("AWSManagedRulesKnownBadInputsRuleSet") });

    this.webAcl = new Wafv2WebAcl(this, "web-acl", {
      provider: usEast1,
      name,
      description: "Rate limit, allow-lists and AWS managed rules in front of the chatbot's CloudFront distribution",
      scope: "CLOUDFRONT",
      defaultAction: { allow: {} },
      customResponseBody: [
        { key: TOO_MANY_REQUESTS, contentType: "APPLICATION_JSON", content: JSON.stringify({ message: edgeResponses.tooManyRequests.message, reason: edgeResponses.tooManyRequests.reason }) },
        { key: FORBIDDEN, contentType: "APPLICATION_JSON", content: JSON.stringify({ message: edgeResponses.forbidden.message, reason: edgeResponses.forbidden.reason }) },
      ],
      rule: rules,
      visibilityConfig: visibility(name),
    });
    this.metricNames = { acl: name, rules: rules.map((r) => r.visibilityConfig.metricName) };
  }
}

function visibility(metricName: string) {
  return { cloudwatchMetricsEnabled: true, metricName, sampledRequestsEnabled: true };
}

function not(statement: Record<string, unknown>) {
  return { not_statement: { statement } };
}

function managedGroup(groupName: string, countedRules: readonly string[] = []) {
  return {
    managed_rule_group_statement: {
      name: groupName,
      vendor_name: "AWS",
      rule_action_override: countedRules.map((ruleName) => ({ name: ruleName, action_to_use: { count: {} } })),
    },
  };
}
