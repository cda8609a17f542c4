import { ApiGatewayAccount } from "@cdktf/provider-aws/lib/api-gateway-account";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Construct } from "constructs";
import { servicePrincipalTrust } from "./iam";

/** Options of {@link ApiGatewayCloudwatchAccount}. */
export interface ApiGatewayCloudwatchAccountOptions {
  /** Region of the setting; part of the role's name, since IAM names are account-wide. */
  readonly region: string;
  /** AWS partition, for the managed policy's ARN. @default "aws" */
  readonly partition?: string;
}

/**
 * The account-level role API Gateway writes CloudWatch logs with: one setting per account
 * and region, so it lives in the account stack, never in an environment's. Without it, a
 * stage with INFO logging fails to deploy on a fresh account.
 */
export class ApiGatewayCloudwatchAccount extends Construct {
  public readonly role: IamRole;
  public readonly account: ApiGatewayAccount;

  constructor(scope: Construct, id: string, options: ApiGatewayCloudwatchAccountOptions) {
    super(scope, id);
    this.role = new IamRole(this, "cloudwatch-role", {
      name: `chatbot-apigateway-cloudwatch-${options.region}`,
      description: `Account-level role API Gateway uses in ${options.region} to write execution and access logs`,
      assumeRolePolicy: servicePrincipalTrust("apigateway.amazonaws.com"),
    });
    const attachment = new IamRolePolicyAttachment(this, "cloudwatch-role-policy", {
      role: this.role.name,
      policyArn: `arn:${options.partition ?? "aws"}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs`,
    });
    this.account = new ApiGatewayAccount(this, "account", {
      cloudwatchRoleArn: this.role.arn,
      // Destroying the account stack clears the setting rather than leaving it pointing at
      // the role that destroy deletes (provider 5.x's default only forgets it). 5.100 marks
      // the argument deprecated ("will be removed in a future version": one validate
      // warning); check what a provider upgrade does on delete before dropping it.
      resetOnDelete: true,
      dependsOn: [attachment],
    });
  }
}
