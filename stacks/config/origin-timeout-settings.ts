/**
 * How long CloudFront waits for the `/chat` origin (API Gateway): longer than the
 * integration timeout, so a slow answer reaches the viewer instead of CloudFront's own 504
 * while the function and the model keep running (and billing).
 *
 * CloudFront's "response timeout" (OriginReadTimeout) of a custom origin: "The minimum
 * timeout is 1 second, the maximum is 60 seconds, and the default ... is 30 seconds"
 * (CloudFront API Reference, CustomOriginConfig:
 * https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CustomOriginConfig.html ;
 * Developer Guide, "Origin settings":
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesOrigin.html).
 * More needs the Service Quotas increase "Response timeout per origin"; AWS re:Post says an
 * increase goes up to 180 s, and further with another request
 * (https://repost.aws/knowledge-center/cloudfront-custom-origin-response). What the account
 * was granted is declared in `cloudFrontResponseTimeoutQuota`.
 */
import type { Checker } from "./checker";
import { DEFAULTS, EnvironmentConfig } from "./environment";

/** CloudFront's response-timeout quota per origin without an increase, in seconds. */
export const CLOUDFRONT_DEFAULT_RESPONSE_TIMEOUT_QUOTA = 60;
/** Largest quota this project accepts as declared (a guard against typos). */
const MAX_DECLARED_QUOTA = 600;

/** The `/chat` origin's response timeout: one second past API Gateway's integration timeout, whose 504 it must relay. */
export function originReadTimeoutSeconds(integrationTimeoutMs: number): number {
  return Math.ceil(integrationTimeoutMs / 1000) + 1;
}

/** Reads the declared CloudFront quota and checks the origin's response timeout fits in it. */
export function resolveOriginTimeout(check: Checker, integrationTimeoutMs: number): Pick<EnvironmentConfig, "cloudFrontResponseTimeoutQuota"> {
  const quota = check.int("cloudFrontResponseTimeoutQuota", DEFAULTS.cloudFrontResponseTimeoutQuota, CLOUDFRONT_DEFAULT_RESPONSE_TIMEOUT_QUOTA, MAX_DECLARED_QUOTA);
  const needed = originReadTimeoutSeconds(integrationTimeoutMs);
  if (needed > quota) {
    const raised = quota === CLOUDFRONT_DEFAULT_RESPONSE_TIMEOUT_QUOTA ? "CloudFront's default quota" : "the quota declared";
    check.fail(
      "integrationTimeoutMs",
      integrationTimeoutMs,
      `at most ${(quota - 1) * 1000} ms while cloudFrontResponseTimeoutQuota is ${quota} s (${raised}): CloudFront must wait ${needed} s for /chat, ` +
        `longer than API Gateway, and refuses an origin response timeout above its quota. Ask AWS to raise the CloudFront quota ` +
        `"Response timeout per origin" and set cloudFrontResponseTimeoutQuota to the granted value, or lower integrationTimeoutMs`,
    );
  }
  return { cloudFrontResponseTimeoutQuota: quota };
}
