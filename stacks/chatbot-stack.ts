import * as path from "path";
import { DataAwsCallerIdentity } from "@cdktf/provider-aws/lib/data-aws-caller-identity";
import { DataAwsPartition } from "@cdktf/provider-aws/lib/data-aws-partition";
import { Lazy, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { ChatApi } from "./chat-api";
import { ChatFunction } from "./chat-function";
import { chatSettings } from "./chat-settings";
import { ChatStream, STREAM_STAGE } from "./chat-stream";
import { EnvironmentConfig, originReadTimeoutSeconds, servesIpv6 } from "./config";
import { CONVERSATIONS_MODULE } from "./conversations/conversation-routes";
import { CONVERSATIONS_TIMEOUT_SECONDS, Conversations } from "./conversations/conversations";
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
import { addStackOutputs } from "./stack-outputs";
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

export { modelReadTimeoutSeconds } from "./chat-settings";

/** Stack name of an environment, e.g. `chatbot-dev`. */
export function stackName(environment: string): string {
  return `chatbot-${environment}`;
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
  /** Each signed-in person's saved conversations: the table, `/conversations` and its function (`conversations`). */
  public readonly conversations?: Conversations;

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
    const settings = chatSettings(c, model);
    const limits = { maxTextChars: c.maxTextChars, maxHistoryTurns: c.maxHistoryTurns, maxHistoryChars: c.maxHistoryChars };
    const functionDefaults = { runtime: c.lambdaRuntime, timeoutSeconds: c.lambdaTimeoutSeconds, memoryMb: c.lambdaMemoryMb, logRetentionDays: c.logRetentionDays, tracing: c.tracing };

    const code = new FunctionPackage(this, "function-package", {
      sourceDir: options.lambdaDir ?? path.join(PROJECT_ROOT, "lambda-chat"),
      requiredFiles: [
        "lambda_function.py",
        ...(c.streaming ? ["stream_function.py", "stream_failures/notice.py"] : []),
        ...(c.conversations ? [CONVERSATIONS_MODULE] : []),
      ],
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
    if (c.conversations) {
      this.conversations = new Conversations(this, "conversations", {
        namePrefix: `chatbot-${c.name}`,
        retentionDays: c.conversationRetentionDays,
        // The setting that keeps prod's accounts also keeps their chats.
        deletionProtection: c.userPoolDeletionProtection,
        functionName: `lambda-chat-conversations-${c.name}`,
        code,
        environment: { ...signInEnvironment, LOG_PROMPTS: String(c.logPrompts) },
        integrationTimeoutMs: c.integrationTimeoutMs,
        runtime: c.lambdaRuntime,
        memoryMb: c.lambdaMemoryMb,
        logRetentionDays: c.logRetentionDays,
        tracing: c.tracing,
      });
    }
    const chatEnvironment = { ...signInEnvironment, ...this.conversations?.functionEnvironment() };

    this.chatFunction = new ChatFunction(this, "chat-function", {
      functionName: `${c.functionName}-${c.name}`,
      code,
      settings,
      endpointArn,
      environment: chatEnvironment,
      ...functionDefaults,
    });
    this.signIn?.grantChat(this.chatFunction.role);
    this.conversations?.grantChat("chat", this.chatFunction.role);

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
    this.conversations?.serveOn(this.chatApi, c.cloudFrontOnly);

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
        environment: chatEnvironment,
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
      this.conversations?.grantChat("stream", this.chatStream.streamFunction.role);
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
    if (this.conversations) {
      // The list (and DELETE of all) and everything below it; `/conversations*` would also catch a file of the site.
      apiRoutes.push({ pathPattern: "/conversations", ...chatRoute }, { pathPattern: "/conversations/*", ...chatRoute });
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
    this.signIn?.writePageConfig(this.site.bucket.id, { conversations: this.conversations !== undefined });
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
    if (this.conversations) {
      const fn = this.conversations;
      // A proxy integration: the handler answers its 4xx itself and raises only when it fails.
      functions.push({ label: "conversations", functionName: fn.function.functionName, logGroupName: fn.logGroup.name, budgetMs: Math.min(c.integrationTimeoutMs, CONVERSATIONS_TIMEOUT_SECONDS * 1000), raisesClientErrors: false, answers: false });
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

    addStackOutputs(this, c);
  }
}
