import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Testing } from "cdktf";
import { MANAGED_POLICY, SiteHosting } from "../stacks/site-hosting";
import { FIXTURES, StackJson, environmentConfig, only, policy, resourcesOf, synthStack } from "./helpers";

function synthSite(siteDir = FIXTURES.siteDir): StackJson {
  return JSON.parse(
    Testing.synthScope((scope) => {
      new SiteHosting(scope, "site-hosting", {
        siteDir,
        bucketPrefix: "chatbot-site-dev-",
        apiRoutes: [
          { pathPattern: "/chat", originId: "chat-api", domainName: "abc123.execute-api.ap-northeast-2.amazonaws.com", originPath: "/dev" },
          { pathPattern: "/stream", originId: "chat-stream", domainName: "ws456.execute-api.ap-northeast-2.amazonaws.com", allowedMethods: ["GET", "HEAD"] },
        ],
        comment: "test",
      });
    }),
  );
}

const json = synthSite();
const distribution = () => only(json, "aws_cloudfront_distribution");

describe("SiteHosting", () => {
  it("blocks every kind of public access to the bucket", () => {
    expect(only(json, "aws_s3_bucket_public_access_block")).toMatchObject({
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
  });

  it("turns ACLs off and encrypts the bucket", () => {
    expect(only(json, "aws_s3_bucket_ownership_controls").rule).toEqual({ object_ownership: "BucketOwnerEnforced" });
    expect(only(json, "aws_s3_bucket_server_side_encryption_configuration").rule).toEqual([
      { apply_server_side_encryption_by_default: { sse_algorithm: "AES256" } },
    ]);
  });

  it("names the bucket from a prefix so two accounts or environments never collide", () => {
    expect(only(json, "aws_s3_bucket")).toEqual(expect.objectContaining({ bucket_prefix: "chatbot-site-dev-" }));
  });

  it("denies non-TLS access and lets only this distribution read, through origin access control", () => {
    const doc = policy(only(json, "aws_s3_bucket_policy").policy);
    expect(doc.Statement).toEqual([
      expect.objectContaining({ Effect: "Deny", Action: ["s3:*"], Condition: { Bool: { "aws:SecureTransport": false } } }),
      {
        Sid: "AllowThisDistributionToRead",
        Effect: "Allow",
        Principal: { Service: "cloudfront.amazonaws.com" },
        Action: ["s3:GetObject"],
        Resource: [expect.stringMatching(/^\$\{aws_s3_bucket\.[\w-]+\.arn\}\/\*$/)],
        Condition: { StringEquals: { "AWS:SourceArn": expect.stringMatching(/^\$\{aws_cloudfront_distribution\.[\w-]+\.arn\}$/) } },
      },
    ]);
    expect(json.resource.aws_cloudfront_origin_access_identity).toBeUndefined();
    expect(only(json, "aws_cloudfront_origin_access_control")).toMatchObject({
      origin_access_control_origin_type: "s3",
      signing_behavior: "always",
      signing_protocol: "sigv4",
    });
  });

  it("uploads every site file with its Content-Type, a content hash and revalidation", () => {
    const objects = resourcesOf(json, "aws_s3_object");
    expect(objects.map((o) => [o.key, o.content_type]).sort()).toEqual([
      ["chat-style.css", "text/css; charset=utf-8"],
      ["chat.html", "text/html; charset=utf-8"],
      ["chat.js", "text/javascript; charset=utf-8"],
      ["img/logo.svg", "image/svg+xml"],
    ]);
    for (const o of objects) {
      expect(o.source).toMatch(new RegExp(`^assets/[\\w-]+/[0-9A-F]{32}/${path.basename(o.key).replace(".", "\\.")}$`));
      expect(o.source_hash).toMatch(/^[0-9a-f]{32}$/);
      expect(o.cache_control).toBe("no-cache");
    }
  });

  it("changes only the edited file's object when one site file changes", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "site-"));
    fs.cpSync(FIXTURES.siteDir, dir, { recursive: true });
    const before = synthSite(dir).resource.aws_s3_object;
    fs.appendFileSync(path.join(dir, "chat.js"), "// edited\n");
    const after = synthSite(dir).resource.aws_s3_object;
    const changed = Object.keys(before).filter((id) => JSON.stringify(before[id]) !== JSON.stringify(after[id]));
    expect(changed.map((id) => after[id].key)).toEqual(["chat.js"]);
  });

  it("refuses a site file whose Content-Type it does not know", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "site-"));
    fs.cpSync(FIXTURES.siteDir, dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "notes.xyz"), "?");
    expect(() => synthSite(dir)).toThrow(/site file notes\.xyz has no known Content-Type/);
  });

  it("serves the page from S3 with HTTPS redirect, compression and security headers", () => {
    expect(distribution()).toMatchObject({
      enabled: true,
      default_root_object: "chat.html",
      price_class: "PriceClass_200",
      default_cache_behavior: {
        target_origin_id: "site-bucket",
        viewer_protocol_policy: "redirect-to-https",
        compress: true,
        allowed_methods: ["GET", "HEAD"],
        cache_policy_id: MANAGED_POLICY.cachingOptimized,
        response_headers_policy_id: MANAGED_POLICY.securityHeaders,
      },
    });
    const s3Origin = distribution().origin.find((o: any) => o.origin_id === "site-bucket");
    expect(s3Origin.domain_name).toMatch(/^\$\{aws_s3_bucket\.[\w-]+\.bucket_regional_domain_name\}$/);
    expect(s3Origin.origin_access_control_id).toMatch(/^\$\{aws_cloudfront_origin_access_control\.[\w-]+\.id\}$/);
  });

  it("sends /chat to the API's stage over HTTPS and TLS 1.2 only", () => {
    const apiOrigin = distribution().origin.find((o: any) => o.origin_id === "chat-api");
    expect(apiOrigin).toMatchObject({
      domain_name: "abc123.execute-api.ap-northeast-2.amazonaws.com",
      origin_path: "/dev",
      custom_origin_config: { origin_protocol_policy: "https-only", origin_ssl_protocols: ["TLSv1.2"] },
    });
  });

  it("never caches /chat, allows POST and keeps the Host header from API Gateway", () => {
    expect(distribution().ordered_cache_behavior[0]).toEqual(
      expect.objectContaining({
        path_pattern: "/chat",
        target_origin_id: "chat-api",
        viewer_protocol_policy: "redirect-to-https",
        allowed_methods: expect.arrayContaining(["POST", "OPTIONS"]),
        cache_policy_id: MANAGED_POLICY.cachingDisabled,
        origin_request_policy_id: MANAGED_POLICY.allViewerExceptHostHeader,
      }),
    );
  });

  it("sends /stream to the WebSocket API with no origin path, uncached, without the Host header", () => {
    expect(distribution().ordered_cache_behavior[1]).toEqual(
      expect.objectContaining({
        path_pattern: "/stream",
        target_origin_id: "chat-stream",
        allowed_methods: ["GET", "HEAD"],
        cache_policy_id: MANAGED_POLICY.cachingDisabled,
        origin_request_policy_id: MANAGED_POLICY.allViewerExceptHostHeader,
      }),
    );
    const origin = distribution().origin.find((o: any) => o.origin_id === "chat-stream");
    expect(origin).toMatchObject({ domain_name: "ws456.execute-api.ap-northeast-2.amazonaws.com", custom_origin_config: { origin_protocol_policy: "https-only" } });
    expect(origin.origin_path).toBeUndefined();
  });

  it("takes the price class from the configuration", () => {
    const custom = synthStack(environmentConfig({ priceClass: "PriceClass_100" }));
    expect(only(custom, "aws_cloudfront_distribution").price_class).toBe("PriceClass_100");
  });
});
