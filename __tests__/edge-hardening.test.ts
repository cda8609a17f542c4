import { byId, environmentConfig, only, resourcesOf, synthStack } from "./helpers";

const chatOrigin = (json: ReturnType<typeof synthStack>) => only(json, "aws_cloudfront_distribution").origin.find((o: any) => o.origin_id === "chat-api");

describe("the /chat origin's response timeout", () => {
  it("covers the integration timeout: CloudFront waits one second longer than API Gateway", () => {
    expect(chatOrigin(synthStack()).custom_origin_config.origin_read_timeout).toBe(30);
    const long = synthStack(environmentConfig({ integrationTimeoutMs: 120_000, allowLongIntegrationTimeout: true, cloudFrontResponseTimeoutQuota: 180 }));
    expect(chatOrigin(long).custom_origin_config.origin_read_timeout).toBe(121);
    expect(byId(long, "aws_api_gateway_integration", "post-integration").timeout_milliseconds).toBe(120_000);
  });
});

describe("allow-lists", () => {
  const zone = { domainName: "chat.example.com", hostedZoneId: "Z0123456789ABCDEFGHIJ" };
  const aliasTypes = (json: ReturnType<typeof synthStack>) => resourcesOf(json, "aws_route53_record").filter((r) => r.alias).map((r) => r.type).sort();

  it("keeps listed IPv4 users in when only IPv4 ranges are listed: IPv6 off on the distribution and no AAAA alias", () => {
    const v4only = synthStack(environmentConfig({ ...zone, allowedIpRanges: ["203.0.113.0/24", "198.51.100.0/24"] }));
    expect(only(v4only, "aws_cloudfront_distribution").is_ipv6_enabled).toBe(false);
    expect(aliasTypes(v4only)).toEqual(["A"]);
  });

  it("serves IPv6 with an IPv6 range in the list, with countries only, and without a list", () => {
    for (const settings of [{ allowedIpRanges: ["203.0.113.0/24", "2001:db8::/32"] }, { allowedCountries: ["KR"] }, {}]) {
      const json = synthStack(environmentConfig({ ...zone, ...settings }));
      expect({ settings, ipv6: only(json, "aws_cloudfront_distribution").is_ipv6_enabled }).toEqual({ settings, ipv6: true });
      expect(aliasTypes(json)).toEqual(["A", "AAAA"]);
    }
  });
});
