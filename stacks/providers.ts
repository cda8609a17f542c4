import { ArchiveProvider } from "@cdktf/provider-archive/lib/provider";
import { AwsProvider, AwsProviderEndpoints } from "@cdktf/provider-aws/lib/provider";
import { Construct } from "constructs";

/** The stack's providers: AWS in its region, AWS in us-east-1 (what CloudFront reads from there), archive. */
export interface Providers {
  readonly aws: AwsProvider;
  /** CLOUDFRONT-scope WAF, certificates for CloudFront, and CloudFront's metrics live in us-east-1. */
  readonly usEast1: AwsProvider;
}

/**
 * Creates the providers of one environment's stack. With `awsAccountId`, every AWS provider
 * refuses credentials of any other account (`allowed_account_ids`): a prod plan never runs
 * with dev credentials.
 */
export function createProviders(scope: Construct, environment: string, region: string, emulatorUrl?: string, awsAccountId?: string): Providers {
  const common = awsProviderSettings(environment, emulatorUrl, awsAccountId);
  const aws = new AwsProvider(scope, "aws", { region, ...common });
  const usEast1 = new AwsProvider(scope, "aws-us-east-1", { alias: "us_east_1", region: "us-east-1", ...common });
  new ArchiveProvider(scope, "archive");
  return { aws, usEast1 };
}

/** Settings every AWS provider of the project shares: default tags, the allowed account, the emulator (tests only). */
export function awsProviderSettings(environment: string, emulatorUrl?: string, awsAccountId?: string) {
  return {
    defaultTags: [{ tags: { Project: "falcon-chatbot", Environment: environment, ManagedBy: "cdktf" } }],
    ...(awsAccountId === undefined ? {} : { allowedAccountIds: [awsAccountId] }),
    ...(emulatorUrl === undefined ? {} : emulatorSettings(emulatorUrl)),
  };
}

/** Services the stack calls, for the emulator's endpoint list (__tests__/emulator-endpoints.test.ts checks every resource has its own). */
export const EMULATED_SERVICES = [
  "acm", "apigateway", "apigatewayv2", "applicationautoscaling", "budgets", "cloudfront", "cloudwatch", "cloudwatchlogs", "cognitoidp",
  "dynamodb", "iam", "kms", "lambda", "route53", "s3", "sagemaker", "sns", "sts", "wafv2",
] as const;

/** AWS provider settings that send every call to an AWS emulator (tests only). */
function emulatorSettings(url: string): { endpoints: AwsProviderEndpoints[]; skipCredentialsValidation: boolean; skipMetadataApiCheck: string; skipRegionValidation: boolean; s3UsePathStyle: boolean } {
  return {
    endpoints: [Object.fromEntries(EMULATED_SERVICES.map((service) => [service, url])) as AwsProviderEndpoints],
    skipCredentialsValidation: true,
    skipMetadataApiCheck: "true",
    skipRegionValidation: true,
    s3UsePathStyle: true,
  };
}
