import { EMULATED_SERVICES } from "../stacks/providers";
import { environmentConfig, synthStack } from "./helpers";

/** The provider's endpoint key of each Terraform type (data sources too); null: the type calls no AWS API. */
const SERVICE_OF: readonly [RegExp, string | null][] = [
  [/^aws_acm_/, "acm"],
  [/^aws_api_gateway_/, "apigateway"],
  [/^aws_apigatewayv2_/, "apigatewayv2"],
  [/^aws_appautoscaling_/, "applicationautoscaling"],
  [/^aws_budgets_/, "budgets"],
  [/^aws_cloudfront_/, "cloudfront"],
  [/^aws_cloudwatch_(log_|query_definition$)/, "cloudwatchlogs"],
  [/^aws_cloudwatch_(metric_alarm|dashboard|composite_alarm)$/, "cloudwatch"],
  [/^aws_cognito_/, "cognitoidp"],
  [/^aws_dynamodb_/, "dynamodb"],
  [/^aws_iam_/, "iam"],
  [/^aws_kms_/, "kms"],
  [/^aws_lambda_/, "lambda"],
  [/^aws_route53_/, "route53"],
  [/^aws_s3_/, "s3"],
  [/^aws_sagemaker_/, "sagemaker"],
  [/^aws_sns_/, "sns"],
  [/^aws_wafv2_/, "wafv2"],
  [/^aws_caller_identity$/, "sts"],
  [/^aws_partition$/, null], // computed by the provider from the region
];

// Every optional part switched on, so every type the stack can create is seen.
const everything = synthStack(
  environmentConfig({
    modelDeploy: true,
    domainName: "chat.example.com",
    hostedZoneId: "Z0123456789ABCDEFGHIJ",
    alarmEmail: "ops@example.com",
    budgetMonthlyUsd: 100,
    tracing: true,
    selfSignUp: true,
    allowedEmailDomains: ["example.com"],
    mfa: "optional",
  }),
);
const types = [...Object.keys(everything.resource), ...Object.keys(everything.data ?? {})].filter((t) => t.startsWith("aws_")).sort();

describe("emulator endpoints", () => {
  it.each(types)("sends %s's calls to the emulator (its service has an endpoint override)", (type) => {
    const match = SERVICE_OF.find(([pattern]) => pattern.test(type));
    expect({ type, known: match !== undefined }).toEqual({ type, known: true }); // add the type's service above
    const service = match![1];
    if (service !== null) expect(EMULATED_SERVICES).toContain(service);
  });

  it("sees the sign-in resources among them", () => {
    expect(types).toEqual(expect.arrayContaining(["aws_cognito_user_pool", "aws_cognito_user_pool_client", "aws_cognito_user_pool_domain", "aws_cognito_user_group", "aws_api_gateway_authorizer"]));
  });
});
