import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { ApiGatewayCloudwatchAccount } from "./api-gateway-account";
import type { AccountConfig } from "./config";
import { awsProviderSettings } from "./providers";
import { StateBackend } from "./state-backend";

/** Options of {@link AccountStack}. */
export interface AccountStackOptions {
  readonly config: AccountConfig;
}

/**
 * What one AWS account and region share across environments: API Gateway's CloudWatch
 * role setting. Every environment stack there depends on it, and none of their destroys
 * removes it; destroying this stack clears the setting, so execution logging (and every
 * logging change) of any API Gateway stage left in that account and region fails until it
 * is set again.
 */
export class AccountStack extends TerraformStack {
  public readonly apiGateway: ApiGatewayCloudwatchAccount;

  constructor(scope: Construct, id: string, options: AccountStackOptions) {
    super(scope, id);
    const c = options.config;
    new StateBackend(this, "state-backend", {
      kind: c.backend,
      stackName: id,
      bucket: c.stateBucket,
      key: c.stateKey,
      region: c.stateRegion,
      organization: c.tfcOrganization,
      workspace: c.tfcWorkspace,
      hostname: c.tfcHostname,
      s3EndpointUrl: c.awsEndpointUrl,
    });
    new AwsProvider(this, "aws", { region: c.region, ...awsProviderSettings("account", c.awsEndpointUrl, c.awsAccountId) });
    const partition = new DataAwsPartition(this, "partition").partition;
    this.apiGateway = new ApiGatewayCloudwatchAccount(this, "api-gateway-account", { region: c.region, partition });
    new TerraformOutput(this, "ApiGatewayCloudwatchRoleArn", {
      value: this.apiGateway.role.arn,
      description: `Role API Gateway logs with in ${c.region} (environments: ${c.environments.join(", ")})`,
    });
  }
}
