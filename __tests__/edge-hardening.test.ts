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
