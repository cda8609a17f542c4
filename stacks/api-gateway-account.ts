import { ApiGatewayAccount } from "@cdktf/provider-aws/lib/api-gateway-account";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Construct } from "constructs";
import { servicePrincipalTrust } from "./iam";

/**
 * The account-level role API Gateway writes CloudWatch logs with (one setting per
 * account and region). Without it, a stage with INFO logging fails to deploy on a fresh
 * account.
 *
 * The resources are created directly in `scope` (ids `cloudwatch-role`,
 * `cloudwatch-role-policy`, `account`), not in a construct of their own, so their
 * Terraform addresses stay what they were when this lived inside the chat API.
 */
export function apiGatewayCloudwatchAccount(scope: Construct, apiName: string, partition: string): ApiGatewayAccount {
  const role = new IamRole(scope, "cloudwatch-role", {
    name: `${apiName}-cloudwatch`,
    description: "Account-level role API Gateway uses to write execution and access logs",
    assumeRolePolicy: servicePrincipalTrust("apigateway.amazonaws.com"),
  });
  const attachment = new IamRolePolicyAttachment(scope, "cloudwatch-role-policy", {
    role: role.name,
    policyArn: `arn:${partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs`,
  });
  return new ApiGatewayAccount(scope, "account", {
    cloudwatchRoleArn: role.arn,
    dependsOn: [attachment],
  });
}
