/** Values and name rules settings are checked against (AWS's own limits). */
import type { BackendKind } from "./environment";

export const AWS_REGIONS: readonly string[] = [
  "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
  "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
  "ap-southeast-5", "ap-southeast-7", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2",
  "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1",
  "me-central-1", "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2", "us-west-1",
  "us-west-2", "us-gov-east-1", "us-gov-west-1", "cn-north-1", "cn-northwest-1",
];

/** Values CloudWatch Logs accepts for retention_in_days. */
export const LOG_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
];

/** Python runtimes the handler is written and tested for (python3.9 is deprecated since 2025-12-15). */
export const LAMBDA_RUNTIMES: readonly string[] = ["python3.11", "python3.12", "python3.13"];

export const PRICE_CLASSES: readonly string[] = ["PriceClass_100", "PriceClass_200", "PriceClass_All"];

export const BACKEND_KINDS: readonly BackendKind[] = ["local", "s3", "cloud"];

export const ENV_NAME = /^[a-z][a-z0-9]{0,11}$/;
// SageMaker's rule for endpoint names.
export const ENDPOINT_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
// API Gateway stage names: letters, digits, hyphens and underscores, at most 128.
export const STAGE_NAME = /^[A-Za-z0-9_-]{1,128}$/;
export const LAMBDA_NAME = /^[A-Za-z0-9_-]{1,64}$/;
export const IAM_ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
export const S3_BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
export const TFC_NAME = /^[A-Za-z0-9_-]{1,90}$/;
