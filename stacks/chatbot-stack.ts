import * as path from "path";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { Lazy, TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { ChatApi } from "./chat-api";
import { ChatFunction, ChatSettings } from "./chat-function";
import { ChatStream, STREAM_STAGE } from "./chat-stream";
import { EnvironmentConfig, originReadTimeoutSeconds, servesIpv6 } from "./config";
import { CustomDomain } from "./edge/custom-domain";
import { API_KEY_HEADER, OriginKey } from "./edge/origin-key";
import { WebFirewall } from "./edge/web-firewall";
import { FunctionPackage } from "./function-package";
import { MODELS } from "./model/catalogue";
import { ModelEndpoint, VARIANT_NAME } from "./model/model-endpoint";
import { Operations } from "./operations/operations";
import type { WatchedFunction } from "./operations/watched";
import { createProviders } from "./providers";
import { PAGE_CONFIG_KEY, PAGE_CONFIG_META, SignIn } from "./signin/sign-in";
import { ApiRoute, SiteHosting } from "./site-hosting";
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
 * One environment of the chatbot: the chat functions and the APIs in front of them, the
 * site and CloudFront in front of those, what protects the edge, the model when the
 * stack deploys it, and where the state is kept.
 */
export class ChatbotStack extends TerraformStack {
  public readonly chatFunction: ChatFunction;
  public readonly chatApi: ChatApi;
  /** The WebSocket API and streaming function, when streaming is on. */
  public readonly chatStream?: ChatStream;
  public readonly site: SiteHosting;
  /** The model endpoint, when the stack deploys it (`modelDeploy`). */
  public readonly modelEndpoint?: ModelEndpoint;
  /** The API key only CloudFront sends, and the request ceiling (`cloudFrontOnly`). */
  public readonly originKey?: OriginKey;
  /** The WAF web ACL in front of CloudFront (`waf`). */
  public readonly firewall?: WebFirewall;
  /** The site's own name and certificate (`domainName`). */
  public readonly customDomain?: CustomDomain;
  /** Alarms, their topics, the dashboard, saved queries and the budget. */
  public readonly operations: Operations;
  /** The user pool, the identity store and what the functions need of them (`auth` = `cognito`). */
  public readonly signIn?: SignIn;

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

    const { usEast1 } = createProviders(this, c.name, c.region, c.awsEndpointUrl, c.awsAccountId);

    const partition = new DataAwsPartition(this, "partition").partition;
    const account = new DataAwsCallerIdentity(this, "caller").accountId;
    const model = MODELS[c.modelId];
    if (c.modelDeploy) {
      this.modelEndpoint = new ModelEndpoint(this, "model-endpoint", {
        endpointName: c.endpointName,
        model,
        modelDataS3Uri: c.modelDataS3Uri,
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
    const settings: ChatSettings = {
      endpointName: c.endpointName,
      generation: c.generation,
      ...limits,
      modelReadTimeoutSeconds: modelReadTimeoutSeconds(c),
      modelTokenLimits: { maxInputTokens: model.maxInputTokens, maxTotalTokens: model.maxTotalTokens },
      payloadStyle: model.payloadStyle,
      tokenizer: model.tokenizer,
      systemPrompt: c.systemPrompt,
      logPrompts: c.logPrompts,
    };
    const functionDefaults = { runtime: c.lambdaRuntime, timeoutSeconds: c.lambdaTimeoutSeconds, memoryMb: c.lambdaMemoryMb, logRetentionDays: c.logRetentionDays, tracing: c.tracing };

    const code = new FunctionPackage(this, "function-package", {
      sourceDir: options.lambdaDir ?? path.join(PROJECT_ROOT, "lambda-chat"),
      requiredFiles: c.streaming ? ["lambda_function.py", "stream_function.py", "stream_failures/notice.py"] : ["lambda_function.py"],
    });
    // The distribution (below) is created after the pool that needs its domain: resolved at synth.
    const siteOrigins = [
      Lazy.stringValue({ produce: () => `https://${this.site.distribution.domainName}` }),
      ...(c.domainName ? [`https://${c.domainName}`] : []),
    ];
    if (c.auth === "cognito") {
      this.signIn = new SignIn(this, "sign-in", {
        settings: c,
        namePrefix: `chatbot-${c.name}`,
        region: c.region,
        siteOrigins,
        code,
        triggerFunctionName: `chatbot-pre-sign-up-${c.name}`,
        runtime: c.lambdaRuntime,
        logRetentionDays: c.logRetentionDays,
        streaming: c.streaming,
      });
    }
    const signInEnvironment = this.signIn?.functionEnvironment();

    this.chatFunction = new ChatFunction(this, "chat-function", {
      functionName: `${c.functionName}-${c.name}`,
      code,
      settings,
      endpointArn,
      environment: signInEnvironment,
      ...functionDefaults,
    });
    this.signIn?.grantChat(this.chatFunction.role);

    this.chatApi = new ChatApi(this, "chat-api", {
      region: c.region,
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
      apiKeyRequired: c.cloudFrontOnly,
      tracing: c.tracing,
      userPoolArn: this.signIn?.userPool.pool.arn,
      ticketRoute: c.streaming,
    });

    if (c.streaming) {
      this.chatStream = new ChatStream(this, "chat-stream", {
        apiName: `${c.apiName}-stream-${c.name}`,
        region: c.region,
        functionName: `${c.streamFunctionName}-${c.name}`,
        code,
        settings,
        endpointArn,
        // The distribution (below) needs this API's domain, and the origin check needs the
        // distribution's: resolved at synth. Terraform sees no cycle because the
        // distribution refers only to the API's id and the literal stage name.
        allowedOrigins: siteOrigins,
        environment: signInEnvironment,
        noticeEnvironment: this.signIn?.noticeEnvironment(),
        maxAnswersPerConnection: c.maxAnswersPerConnection,
        throttlingRateLimit: c.streamThrottlingRateLimit,
        throttlingBurstLimit: c.streamThrottlingBurstLimit,
        dataTrace: c.dataTrace,
        apiKeyRequired: c.cloudFrontOnly,
        ...functionDefaults,
      });
      this.signIn?.grantStream(this.chatStream.streamFunction.role, this.chatStream.api.executionArn, STREAM_STAGE, this.chatStream.connectionsTable.arn);
      this.signIn?.grantNotice(this.chatStream.failureNotice.role);
    }

    // Only requests through CloudFront reach the APIs: it alone sends their key.
    let originHeaders: Record<string, string> | undefined;
    if (c.cloudFrontOnly) {
      this.originKey = new OriginKey(this, "origin-key", {
        name: `chatbot-${c.name}-cloudfront`,
        stages: [
          { apiId: this.chatApi.restApi.id, stage: this.chatApi.stage.stageName },
          ...(this.chatStream ? [{ apiId: this.chatStream.api.id, stage: this.chatStream.stage.name }] : []),
        ],
        dailyQuota: c.dailyRequestQuota,
        rateLimit: c.throttlingRateLimit,
        burstLimit: c.throttlingBurstLimit,
      });
      originHeaders = { [API_KEY_HEADER]: this.originKey.value };
    }
    // CloudFront waits past the integration timeout, so API Gateway's answer (or its 504) reaches the viewer.
    const chatRoute = { originId: "chat-api", domainName: this.chatApi.domainName, originPath: `/${c.stage}`, originHeaders, originReadTimeoutSeconds: originReadTimeoutSeconds(c.integrationTimeoutMs) };
    const apiRoutes: ApiRoute[] = [{ pathPattern: "/chat", ...chatRoute }];
    if (this.signIn) {
      // The routes sign-in adds (POST /chat/ticket) go to the same API; `/chat*` would also catch chat.html.
      apiRoutes.push({ pathPattern: "/chat/*", ...chatRoute });
    }
    if (this.chatStream) {
      // The WebSocket handshake is a GET.
      apiRoutes.push({ pathPattern: `/${STREAM_STAGE}`, originId: "chat-stream", domainName: this.chatStream.domainName, allowedMethods: ["GET", "HEAD"], originHeaders });
    }

    if (c.waf) {
      this.firewall = new WebFirewall(this, "web-firewall", {
        name: `chatbot-${c.name}`,
        usEast1,
        rateLimitedPaths: apiRoutes.map((route) => route.pathPattern),
        rateLimit: c.wafRateLimit,
        allowedIpRanges: c.allowedIpRanges,
        allowedCountries: c.allowedCountries,
      });
    }
    if (c.domainName) {
      this.customDomain = new CustomDomain(this, "custom-domain", { domainName: c.domainName, hostedZoneId: c.hostedZoneId, certificateArn: c.certificateArn, usEast1 });
    }

    this.site = new SiteHosting(this, "site-hosting", {
      siteDir: options.siteDir ?? path.join(PROJECT_ROOT, "site"),
      bucketPrefix: `chatbot-site-${c.name}-`,
      apiRoutes,
      priceClass: c.priceClass,
      webAclArn: this.firewall?.webAcl.arn,
      customDomain: this.customDomain,
      comment: `Falcon chatbot (${c.name})`,
      ipv6: servesIpv6(c.allowedIpRanges),
      connectOrigins: this.signIn ? [this.signIn.origin] : undefined,
      // Tells the page to read its sign-in configuration; without it the page is the open one.
      pageMeta: this.signIn ? { [PAGE_CONFIG_META]: PAGE_CONFIG_KEY } : undefined,
    });
    this.signIn?.writePageConfig(this.site.bucket.id);
    this.customDomain?.aliasTo(this.site.distribution, servesIpv6(c.allowedIpRanges));

    const functions: WatchedFunction[] = [
      {
        label: "chat",
        functionName: this.chatFunction.function.functionName,
        logGroupName: this.chatFunction.logGroup.name,
        // API Gateway stops waiting at the integration timeout, before Lambda's own.
        budgetMs: Math.min(c.integrationTimeoutMs, c.lambdaTimeoutSeconds * 1000),
        raisesClientErrors: true,
      },
    ];
    if (this.chatStream) {
      const stream = this.chatStream.streamFunction;
      functions.push({ label: "stream", functionName: stream.function.functionName, logGroupName: stream.logGroup.name, budgetMs: c.lambdaTimeoutSeconds * 1000, raisesClientErrors: false, streams: true });
    }
    this.operations = new Operations(this, "operations", {
      watched: {
        environment: c.name,
        region: c.region,
        distributionId: this.site.distribution.id,
        webAclName: this.firewall?.webAcl.name,
        restApi: { name: this.chatApi.restApi.name, stage: this.chatApi.stage.stageName, integrationTimeoutMs: c.integrationTimeoutMs, accessLogGroupName: this.chatApi.accessLogGroup.name },
        websocket: this.chatStream ? { apiId: this.chatStream.api.id, stage: this.chatStream.stage.name } : undefined,
        functions,
        model: this.modelEndpoint ? { endpointName: this.modelEndpoint.endpoint.name, variantName: VARIANT_NAME } : undefined,
      },
      partition,
      accountId: account,
      usEast1,
      alarmEmail: c.alarmEmail,
      budgetMonthlyUsd: c.budgetMonthlyUsd,
    });

    // Output names follow the original sample's CfnOutputs, so scripts reading them keep working.
    const domain = c.domainName ?? this.site.distribution.domainName;
    new TerraformOutput(this, "distributionDomainName", { value: this.site.distribution.domainName, description: "The domain name of the Distribution" });
    new TerraformOutput(this, "WebUrl", { value: `https://${domain}/chat.html`, description: "The chat page" });
    new TerraformOutput(this, "ApiUrl", {
      value: this.chatApi.chatUrl,
      description: c.cloudFrontOnly ? "POST /chat on API Gateway; answers 403 without CloudFront's key (use https://<domain>/chat)" : "POST /chat on API Gateway (the page uses https://<domain>/chat)",
    });
    const auth = this.signIn ? ` -H "Authorization: $ID_TOKEN"` : "";
    new TerraformOutput(this, "CurlExample", {
      value: `curl -s -X POST https://${domain}/chat -H 'Content-Type: application/json'${auth} -d '{"text":"What is Amazon SageMaker?"}'`,
      description: this.signIn ? "Try the API from a shell; README \"Sign-in\" shows how to get ID_TOKEN" : "Try the API from a shell",
    });
    if (this.signIn) {
      const pool = this.signIn.userPool;
      new TerraformOutput(this, "UserPoolId", { value: pool.pool.id, description: "Cognito user pool of the chat's accounts (README: creating the first user)" });
      new TerraformOutput(this, "UserPoolClientId", { value: pool.client.id, description: "The page's app client" });
      new TerraformOutput(this, "SignInUrl", { value: pool.origin, description: "Cognito's hosted sign-in domain" });
      new TerraformOutput(this, "DailyUsageTable", { value: this.signIn.store.usage.name, description: "Answers per person per UTC day (scripts/daily_usage.py)" });
    }
    new TerraformOutput(this, "SiteBucketName", { value: this.site.bucket.bucket, description: "Bucket holding the page" });
    if (this.chatStream) {
      new TerraformOutput(this, "StreamUrl", { value: `wss://${domain}/${STREAM_STAGE}`, description: "WebSocket the page streams answers from" });
    }
    new TerraformOutput(this, "DashboardUrl", { value: this.operations.dashboardUrl, description: "CloudWatch dashboard of this environment" });
    new TerraformOutput(this, "ModelEndpointName", {
      value: c.endpointName,
      description: c.modelDeploy ? "SageMaker endpoint created by this stack" : "Existing SageMaker endpoint the chat calls",
    });
  }
}
