import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { CloudfrontDistribution } from "@cdktf/provider-aws/lib/cloudfront-distribution";
import { CloudfrontOriginAccessControl } from "@cdktf/provider-aws/lib/cloudfront-origin-access-control";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import { AssetType, TerraformAsset } from "cdktf";
import { Construct } from "constructs";
import { policyDocument } from "./iam";
import { listFiles } from "./staged-directory";

/** Options of {@link SiteHosting}. */
export interface SiteHostingOptions {
  /** Directory whose files are the web site (`chat.html` is the entry). */
  readonly siteDir: string;
  /** Prefix of the bucket's generated, globally unique name, e.g. `chatbot-site-dev-`. */
  readonly bucketPrefix: string;
  /** Paths CloudFront sends to an API instead of the bucket (`/chat`, `/stream`), never cached. */
  readonly apiRoutes: readonly ApiRoute[];
  /** CloudFront price class. @default "PriceClass_200" */
  readonly priceClass?: string;
  /** ARN of a CLOUDFRONT-scope WAF web ACL in front of the distribution. @default none */
  readonly webAclArn?: string;
  /** The site's own name and its us-east-1 certificate. @default the CloudFront domain and certificate */
  readonly customDomain?: { readonly domainName: string; readonly certificateArn: string };
  /** Name shown in the CloudFront console. */
  readonly comment: string;
  /** Serve viewers over IPv6 too (off for an IPv4-only allow-list, see `servesIpv6`). @default true */
  readonly ipv6?: boolean;
  /**
   * Origins the page may call besides its own (the sign-in domain), added to `connect-src`
   * of chat.html's Content-Security-Policy at synth. @default none
   */
  readonly connectOrigins?: readonly string[];
  /** `<meta name content>` tags added to chat.html's head at synth (sign-in's). @default none */
  readonly pageMeta?: Readonly<Record<string, string>>;
}

/** chat.html with `<meta>` tags added at the end of its head. */
export function withMeta(html: string, meta: Readonly<Record<string, string>>): string {
  const tags = Object.entries(meta).map(([name, content]) => `<meta name="${name}" content="${content}">\n`).join("");
  if (!tags) return html;
  if (!html.includes("</head>")) throw new Error("chat.html has no </head> to add sign-in's <meta> to");
  return html.replace("</head>", `${tags}</head>`);
}

/** chat.html with `extra` origins appended to its CSP's `connect-src` (which must be there). */
export function withConnectOrigins(html: string, extra: readonly string[]): string {
  if (extra.length === 0) return html;
  const csp = /(http-equiv="Content-Security-Policy" content="[^"]*connect-src )([^;"]*)/;
  if (!csp.test(html)) throw new Error("chat.html has no Content-Security-Policy with connect-src to add the sign-in origin to");
  return html.replace(csp, (_, head: string, sources: string) => `${head}${sources} ${extra.join(" ")}`);
}

/** One path of the site that CloudFront sends to an API. */
export interface ApiRoute {
  /** Path pattern of the cache behaviour, e.g. `/chat`. */
  readonly pathPattern: string;
  /** Id of the origin within the distribution, e.g. `chat-api`. */
  readonly originId: string;
  /** `<api id>.execute-api.<region>.amazonaws.com`. */
  readonly domainName: string;
  /** Prefix CloudFront puts before the viewer's path, e.g. `/dev` (the REST stage). @default none */
  readonly originPath?: string;
  /** Methods the behaviour allows. @default all seven (a REST API) */
  readonly allowedMethods?: readonly string[];
  /** Headers CloudFront adds to every request to this origin (they overwrite a viewer's). @default none */
  readonly originHeaders?: Readonly<Record<string, string>>;
  /** How long CloudFront waits for the origin's response, in seconds (1-60 unless the quota was raised). @default 30 (CloudFront's) */
  readonly originReadTimeoutSeconds?: number;
}

/** CloudFront managed policies (ids are the same in every account). */
export const MANAGED_POLICY = {
  cachingOptimized: "658327ea-f89d-4fab-a63d-7e88639e58f6",
  cachingDisabled: "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
  /** Forwards every viewer header except Host: API Gateway routes by its own host name. */
  allViewerExceptHostHeader: "b689b0a8-53d0-40ab-baf2-68738e2966ac",
  /** HSTS, X-Content-Type-Options, X-Frame-Options, Referrer-Policy, X-XSS-Protection. */
  securityHeaders: "67f7725c-6f97-4210-82d7-5512b31e9d03",
} as const;

/** Content-Type of each file extension the site may contain. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
};

const S3_ORIGIN = "site-bucket";
const ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"];

/**
 * The static chat page: a private, encrypted S3 bucket readable only by one
 * CloudFront distribution, which also forwards the chat paths to their APIs.
 */
export class SiteHosting extends Construct {
  public readonly bucket: S3Bucket;
  public readonly distribution: CloudfrontDistribution;
  /** Object keys uploaded, sorted. */
  public readonly objectKeys: readonly string[];

  constructor(scope: Construct, id: string, options: SiteHostingOptions) {
    super(scope, id);

    this.bucket = new S3Bucket(this, "bucket", { bucketPrefix: options.bucketPrefix });
    const bucketId = this.bucket.id;
    new S3BucketPublicAccessBlock(this, "public-access-block", {
      bucket: bucketId,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    // ACLs off: access is decided by the bucket policy alone.
    new S3BucketOwnershipControls(this, "ownership", {
      bucket: bucketId,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });
    new S3BucketServerSideEncryptionConfigurationA(this, "encryption", {
      bucket: bucketId,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    });

    const oac = new CloudfrontOriginAccessControl(this, "origin-access-control", {
      name: `${options.bucketPrefix}oac`.slice(0, 64),
      description: "CloudFront signs its requests to the site bucket",
      originAccessControlOriginType: "s3",
      signingBehavior: "always",
      signingProtocol: "sigv4",
    });

    this.distribution = new CloudfrontDistribution(this, "distribution", {
      enabled: true,
      comment: options.comment,
      defaultRootObject: "chat.html",
      priceClass: options.priceClass ?? "PriceClass_200",
      httpVersion: "http2and3",
      isIpv6Enabled: options.ipv6 ?? true,
      origin: [
        {
          originId: S3_ORIGIN,
          domainName: this.bucket.bucketRegionalDomainName,
          originAccessControlId: oac.id,
        },
        // One origin per API: several paths (/chat, /chat/*) may share it.
        ...options.apiRoutes.filter((route, i, all) => all.findIndex((r) => r.originId === route.originId) === i).map((route) => ({
          originId: route.originId,
          domainName: route.domainName,
          originPath: route.originPath,
          customHeader: route.originHeaders ? Object.entries(route.originHeaders).map(([name, value]) => ({ name, value })) : undefined,
          customOriginConfig: {
            httpPort: 80,
            httpsPort: 443,
            originProtocolPolicy: "https-only",
            originSslProtocols: ["TLSv1.2"],
            originReadTimeout: route.originReadTimeoutSeconds,
          },
        })),
      ],
      defaultCacheBehavior: {
        targetOriginId: S3_ORIGIN,
        viewerProtocolPolicy: "redirect-to-https",
        allowedMethods: ["GET", "HEAD"],
        cachedMethods: ["GET", "HEAD"],
        compress: true,
        cachePolicyId: MANAGED_POLICY.cachingOptimized,
        responseHeadersPolicyId: MANAGED_POLICY.securityHeaders,
      },
      orderedCacheBehavior: options.apiRoutes.map((route) => ({
        pathPattern: route.pathPattern,
        targetOriginId: route.originId,
        viewerProtocolPolicy: "redirect-to-https",
        allowedMethods: [...(route.allowedMethods ?? ALL_METHODS)],
        cachedMethods: ["GET", "HEAD"],
        compress: true,
        cachePolicyId: MANAGED_POLICY.cachingDisabled,
        // The Host header must not reach API Gateway: it routes by its own execute-api
        // host name and answers 403 to the CloudFront domain. The WebSocket handshake's
        // Sec-WebSocket-* headers are forwarded.
        originRequestPolicyId: MANAGED_POLICY.allViewerExceptHostHeader,
        responseHeadersPolicyId: MANAGED_POLICY.securityHeaders,
      })),
      restrictions: { geoRestriction: { restrictionType: "none" } },
      webAclId: options.webAclArn,
      aliases: options.customDomain ? [options.customDomain.domainName] : undefined,
      viewerCertificate: options.customDomain
        ? {
            acmCertificateArn: options.customDomain.certificateArn,
            sslSupportMethod: "sni-only",
            // Viewers need TLS 1.2 or later. (With CloudFront's default certificate TLS 1.0
            // stays allowed: this setting needs a certificate of your own.)
            minimumProtocolVersion: "TLSv1.2_2021",
          }
        : { cloudfrontDefaultCertificate: true },
    });

    new S3BucketPolicy(this, "bucket-policy", {
      bucket: bucketId,
      policy: policyDocument([
        {
          Sid: "DenyInsecureTransport",
          Effect: "Deny",
          Principal: { AWS: "*" },
          Action: ["s3:*"],
          Resource: [this.bucket.arn, `${this.bucket.arn}/*`],
          Condition: { Bool: { "aws:SecureTransport": false } },
        },
        {
          Sid: "AllowThisDistributionToRead",
          Effect: "Allow",
          Principal: { Service: "cloudfront.amazonaws.com" },
          Action: ["s3:GetObject"],
          Resource: [`${this.bucket.arn}/*`],
          Condition: { StringEquals: { "AWS:SourceArn": this.distribution.arn } },
        },
      ]),
    });

    this.objectKeys = listFiles(options.siteDir).filter((f) => !f.split("/").some((p) => p.startsWith(".")));
    if (!this.objectKeys.includes("chat.html")) throw new Error(`${options.siteDir} has no chat.html, the page CloudFront serves at /`);
    for (const key of this.objectKeys) this.uploadFile(options.siteDir, key, bucketId, options.connectOrigins ?? [], options.pageMeta ?? {});
  }

  /**
   * One object per file, each from its own asset folder named by its content hash:
   * editing one file changes one object in the plan and leaves the others alone.
   */
  private uploadFile(siteDir: string, key: string, bucketId: string, connectOrigins: readonly string[], meta: Readonly<Record<string, string>>): void {
    const contentType = CONTENT_TYPES[path.extname(key).toLowerCase()];
    if (contentType === undefined) {
      throw new Error(`site file ${key} has no known Content-Type; add its extension to CONTENT_TYPES in stacks/site-hosting.ts`);
    }
    const id = `file-${key.replace(/[^A-Za-z0-9]+/g, "-").toLowerCase()}`;
    const file = path.join(siteDir, key);
    if (key === "chat.html" && (connectOrigins.length > 0 || Object.keys(meta).length > 0)) {
      // Rewritten at synth: the object's content is in the plan, reviewable like the rest.
      const content = withMeta(withConnectOrigins(fs.readFileSync(file, "utf8"), connectOrigins), meta);
      new S3Object(this, id, { bucket: bucketId, key, content, contentType, cacheControl: "no-cache" });
      return;
    }
    const asset = new TerraformAsset(this, `${id}-asset`, { path: file, type: AssetType.FILE });
    new S3Object(this, id, {
      bucket: bucketId,
      key,
      source: asset.path,
      sourceHash: crypto.createHash("md5").update(fs.readFileSync(file)).digest("hex"),
      contentType,
      // File names carry no version: browsers and CloudFront must revalidate after a deploy.
      cacheControl: "no-cache",
    });
  }
}
