import * as path from "path";
import { ArchiveProvider } from "@cdktf/provider-archive/lib/provider";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { AwsProvider, AwsProviderEndpoints } from "@cdktf/provider-aws/lib/provider";
import { TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { ChatApi } from "./chat-api";
import { ChatFunction } from "./chat-function";
import type { EnvironmentConfig } from "./config";
import { JUMPSTART_MODELS } from "./model/jumpstart-catalogue";
import { ModelEndpoint } from "./model/model-endpoint";
import { SiteHosting } from "./site-hosting";
import { StateBackend } from "./state-backend";

/** Project root: `lambda-chat/` and `site/` are found from here, whatever the working directory. */
const PROJECT_ROOT = path.resolve(__dirname, "..");

/** Options of {@link ChatbotStack}: one environment's configuration plus where its sources are. */
export interface ChatbotStackOptions {
  readonly config: EnvironmentConfig;
  /** Directory of the Lambda's Python code. @default "<project>/lambda-chat" */
  readonly lambdaDir?: string;
  /** Directory of the web page. @default "<project>/site" */
  readonly siteDir?: string;
}

/** Stack name of an environment, e.g. `chatbot-dev`. */
export function stackName(environment: string): string {
  return `chatbot-${environment}`;
}

/**
 * Read timeout for the Lambda's SageMaker call: a few seconds inside the shorter of the
 * API Gateway integration timeout and the Lambda timeout, so the function can still
 * answer `[504]` before API Gateway or Lambda gives up on it.
 */
export function modelReadTimeoutSeconds(config: Pick<EnvironmentConfig, "integrationTimeoutMs" | "lambdaTimeoutSeconds">): number {
  const budgetMs = Math.min(config.integrationTimeoutMs, config.lambdaTimeoutSeconds * 1000);
  return Math.max(1, Math.floor(budgetMs / 1000) - 4);
}

/**
 * One environment of the chatbot: the chat function, the API in front of it, the
 * site and CloudFront in front of both, and where the state is kept.
 */
export class ChatbotStack extends TerraformStack {
  public readonly chatFunction: ChatFunction;
  public readonly chatApi: ChatApi;
  public readonly site: SiteHosting;
  /** The model endpoint, when the stack deploys it (`modelDeploy`). */
  public readonly modelEndpoint?: ModelEndpoint;

  constructor(scope: Construct, id: string, options: ChatbotStackOptions) {
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

    new AwsProvider(this, "aws", {
      region: c.region,
      defaultTags: [{ tags: { Project: "falcon-chatbot", Environment: c.name, ManagedBy: "cdktf" } }],
      ...(c.awsEndpointUrl === undefined ? {} : emulatorSettings(c.awsEndpointUrl)),
    });
    new ArchiveProvider(this, "archive");

    const partition = new DataAwsPartition(this, "partition").partition;
    const account = new DataAwsCallerIdentity(this, "caller").accountId;
    const model = JUMPSTART_MODELS[c.modelId];
    if (c.modelDeploy) {
      this.modelEndpoint = new ModelEndpoint(this, "model-endpoint", {
        endpointName: c.endpointName,
        model,
        instanceType: c.modelInstanceType,
        minInstances: c.modelMinInstances,
        maxInstances: c.modelMaxInstances,
        region: c.region,
        partition,
        accountId: account,
        logRetentionDays: c.logRetentionDays,
      });
    }
    // Built from the name, not the endpoint resource: the chat works (and says the model
    // is not running) while a deployed endpoint is still starting.
    // SageMaker writes endpoint names in lower case inside ARNs.
    const endpointArn = `arn:${partition}:sagemaker:${c.region}:${account}:endpoint/${c.endpointName.toLowerCase()}`;
    const limits = { maxTextChars: c.maxTextChars, maxHistoryTurns: c.maxHistoryTurns, maxHistoryChars: c.maxHistoryChars };

    this.chatFunction = new ChatFunction(this, "chat-function", {
      functionName: `${c.functionName}-${c.name}`,
      sourceDir: options.lambdaDir ?? path.join(PROJECT_ROOT, "lambda-chat"),
      endpointName: c.endpointName,
      endpointArn,
      runtime: c.lambdaRuntime,
      timeoutSeconds: c.lambdaTimeoutSeconds,
      memoryMb: c.lambdaMemoryMb,
      logRetentionDays: c.logRetentionDays,
      generation: c.generation,
      ...limits,
      modelReadTimeoutSeconds: modelReadTimeoutSeconds(c),
      modelTokenLimits: { maxInputTokens: model.maxInputTokens, maxTotalTokens: model.maxTotalTokens },
      logPrompts: c.logPrompts,
    });

    this.chatApi = new ChatApi(this, "chat-api", {
      region: c.region,
      partition,
      apiName: `${c.apiName}-${c.name}`,
      credentialsRoleName: `${c.apiRoleName}-${c.name}`,
      stageName: c.stage,
      chatFunction: this.chatFunction.function,
      limits,
      integrationTimeoutMs: c.integrationTimeoutMs,
      throttlingRateLimit: c.throttlingRateLimit,
      throttlingBurstLimit: c.throttlingBurstLimit,
      dataTrace: c.dataTrace,
      logRetentionDays: c.logRetentionDays,
      manageAccount: c.manageApiGatewayAccount,
    });

    this.site = new SiteHosting(this, "site-hosting", {
      siteDir: options.siteDir ?? path.join(PROJECT_ROOT, "site"),
      bucketPrefix: `chatbot-site-${c.name}-`,
      apiDomainName: this.chatApi.domainName,
      apiStageName: c.stage,
      priceClass: c.priceClass,
      comment: `Falcon chatbot (${c.name})`,
    });

    // Output names follow the original sample's CfnOutputs, so scripts reading them keep working.
    const domain = this.site.distribution.domainName;
    new TerraformOutput(this, "distributionDomainName", { value: domain, description: "The domain name of the Distribution" });
    new TerraformOutput(this, "WebUrl", { value: `https://${domain}/chat.html`, description: "The chat page" });
    new TerraformOutput(this, "ApiUrl", { value: this.chatApi.chatUrl, description: "POST /chat on API Gateway (the page uses https://<domain>/chat)" });
    new TerraformOutput(this, "CurlExample", {
      value: `curl -s -X POST https://${domain}/chat -H 'Content-Type: application/json' -d '{"text":"What is Amazon SageMaker?"}'`,
      description: "Try the API from a shell",
    });
    new TerraformOutput(this, "SiteBucketName", { value: this.site.bucket.bucket, description: "Bucket holding the page" });
    new TerraformOutput(this, "ModelEndpointName", {
      value: c.endpointName,
      description: c.modelDeploy ? "SageMaker endpoint created by this stack" : "Existing SageMaker endpoint the chat calls",
    });
  }
}

/** AWS provider settings that send every call to an AWS emulator (tests only). */
function emulatorSettings(url: string): { endpoints: AwsProviderEndpoints[]; skipCredentialsValidation: boolean; skipMetadataApiCheck: string; skipRegionValidation: boolean; s3UsePathStyle: boolean } {
  return {
    endpoints: [
      { apigateway: url, applicationautoscaling: url, cloudfront: url, cloudwatchlogs: url, iam: url, lambda: url, s3: url, sagemaker: url, sts: url },
    ],
    skipCredentialsValidation: true,
    skipMetadataApiCheck: "true",
    skipRegionValidation: true,
    s3UsePathStyle: true,
  };
}
