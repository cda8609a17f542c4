import { DEFAULT_GENERATION, loadConfig } from "../stacks/config";
import { problemOf } from "./helpers";

describe("configuration defaults", () => {
  it("builds one dev environment with the original sample's values when nothing is configured", () => {
    const { environments } = loadConfig(undefined, {});
    expect(environments).toHaveLength(1);
    expect(environments[0]).toMatchObject({
      name: "dev",
      region: "ap-northeast-2",
      endpointName: "jumpstart-dft-hf-llm-falcon-7b-instruct-bf16",
      stage: "dev",
      functionName: "lambda-chat-api",
      apiName: "api-chatbot",
      apiRoleName: "api-role-chatbot",
      lambdaTimeoutSeconds: 120,
      logRetentionDays: 1,
      priceClass: "PriceClass_200",
      lambdaRuntime: "python3.13",
      integrationTimeoutMs: 29000,
      backend: "local",
      generation: DEFAULT_GENERATION,
    });
  });

  it("keeps the original sample's generation parameters", () => {
    expect(DEFAULT_GENERATION).toEqual({
      maxNewTokens: 512,
      doSample: false,
      temperature: 0.5,
      repetitionPenalty: 1.03,
      topP: 0.9,
      topK: 1,
      stop: ["<|endoftext|>", "</s>"],
    });
  });

  it("turns data trace on only for a stage named dev", () => {
    const { environments } = loadConfig({ environments: { dev: {}, prod: {} } }, {});
    expect(environments.map((e) => [e.name, e.stage, e.dataTrace])).toEqual([
      ["dev", "dev", true],
      ["prod", "prod", false],
    ]);
  });
});

describe("configuration overrides", () => {
  it("applies per-environment context over shared context", () => {
    const { environments } = loadConfig(
      { region: "eu-west-1", logRetentionDays: 7, environments: { dev: {}, prod: { logRetentionDays: 30 } } },
      {},
    );
    expect(environments.map((e) => [e.name, e.region, e.logRetentionDays])).toEqual([
      ["dev", "eu-west-1", 7],
      ["prod", "eu-west-1", 30],
    ]);
  });

  it("applies CHATBOT_* environment variables over cdktf.json context", () => {
    const [env] = loadConfig(
      { region: "eu-west-1", environments: { dev: { lambdaTimeoutSeconds: 60 } } },
      {
        CHATBOT_REGION: "us-east-1",
        CHATBOT_LAMBDA_TIMEOUT_SECONDS: "90",
        CHATBOT_DATA_TRACE: "false",
        CHATBOT_GENERATION: '{"temperature": 0.2, "maxNewTokens": 256}',
      },
    ).environments;
    expect(env.region).toBe("us-east-1");
    expect(env.lambdaTimeoutSeconds).toBe(90);
    expect(env.dataTrace).toBe(false);
    expect(env.generation).toEqual({ ...DEFAULT_GENERATION, temperature: 0.2, maxNewTokens: 256 });
  });

  it("selects environments with CHATBOT_ENVIRONMENTS", () => {
    const { environments } = loadConfig({ environments: { dev: {}, prod: { stage: "live" } } }, { CHATBOT_ENVIRONMENTS: "prod" });
    expect(environments.map((e) => [e.name, e.stage])).toEqual([["prod", "live"]]);
  });

  it("defaults the S3 state key and region per environment", () => {
    const { environments } = loadConfig(
      { backend: "s3", stateBucket: "acme-tfstate", environments: { dev: {}, prod: {} } },
      {},
    );
    expect(environments.map((e) => [e.stateKey, e.stateRegion])).toEqual([
      ["chatbot/dev/terraform.tfstate", "ap-northeast-2"],
      ["chatbot/prod/terraform.tfstate", "ap-northeast-2"],
    ]);
  });

  it("deploys no model by default (the seed's endpoint and model), and Falcon3-7B on ml.g5.2xlarge with 1 to 2 instances when switched on", () => {
    expect(loadConfig(undefined, {}).environments[0]).toMatchObject({
      modelDeploy: false,
      endpointName: "jumpstart-dft-hf-llm-falcon-7b-instruct-bf16",
      modelId: "huggingface-llm-falcon-7b-instruct-bf16",
    });
    expect(loadConfig(undefined, { CHATBOT_MODEL_DEPLOY: "true" }).environments[0]).toMatchObject({
      modelDeploy: true,
      modelId: "tiiuae/Falcon3-7B-Instruct",
      modelInstanceType: "ml.g5.2xlarge",
      modelMinInstances: 1,
      modelMaxInstances: 2,
      endpointName: "falcon-chatbot-dev",
    });
  });

  it("streams by default, with the REST API's throttling and 50 answers per connection", () => {
    expect(loadConfig(undefined, {}).environments[0]).toMatchObject({
      streaming: true,
      streamFunctionName: "lambda-chat-stream",
      streamThrottlingRateLimit: 10,
      streamThrottlingBurstLimit: 20,
      maxAnswersPerConnection: 50,
    });
  });

  it("protects the edge by default: WAF at 100 chat requests per 5 minutes, CloudFront-only APIs, 10000 requests a day without sign-in", () => {
    expect(loadConfig({ auth: "none" }, {}).environments[0]).toMatchObject({
      waf: true,
      wafRateLimit: 100,
      allowedIpRanges: [],
      allowedCountries: [],
      cloudFrontOnly: true,
      dailyRequestQuota: 10000,
      domainName: undefined,
    });
  });

  it("watches by default without tracing, e-mail or budget", () => {
    expect(loadConfig(undefined, {}).environments[0]).toMatchObject({ tracing: false, alarmEmail: undefined, budgetMonthlyUsd: undefined });
    expect(loadConfig({ alarmEmail: "ops@example.com", budgetMonthlyUsd: 250.5 }, {}).environments[0]).toMatchObject({ alarmEmail: "ops@example.com", budgetMonthlyUsd: 250.5 });
  });

  it("reads allow-lists as comma-separated environment variables or JSON lists", () => {
    const [fromEnv] = loadConfig(undefined, { CHATBOT_ALLOWED_IP_RANGES: " 203.0.113.0/24 ,2001:db8::/32", CHATBOT_ALLOWED_COUNTRIES: "KR,US" }).environments;
    expect([fromEnv.allowedIpRanges, fromEnv.allowedCountries]).toEqual([["203.0.113.0/24", "2001:db8::/32"], ["KR", "US"]]);
    const [fromContext] = loadConfig({ allowedCountries: ["DE"] }, {}).environments;
    expect(fromContext.allowedCountries).toEqual(["DE"]);
  });

  it("defaults the instance type per model (Falcon 40B needs four GPUs)", () => {
    const [env] = loadConfig({ modelId: "huggingface-llm-falcon-40b-instruct-bf16" }, {}).environments;
    expect(env.modelInstanceType).toBe("ml.g5.12xlarge");
  });

  it("names each environment's deployed endpoint after the environment", () => {
    const { environments } = loadConfig({ modelDeploy: true, environments: { dev: {}, prod: {} } }, {});
    expect(environments.map((e) => e.endpointName)).toEqual(["falcon-chatbot-dev", "falcon-chatbot-prod"]);
  });

  it("accepts an integration timeout above 29 s only with the raised-quota switch (and CloudFront's, above 59 s)", () => {
    const [env] = loadConfig({ integrationTimeoutMs: 120000, allowLongIntegrationTimeout: true, cloudFrontResponseTimeoutQuota: 180 }, {}).environments;
    expect(env.integrationTimeoutMs).toBe(120000);
  });
});

describe("invalid configuration is rejected with the setting, the value and what is allowed", () => {
  const cases: [string, unknown, NodeJS.ProcessEnv, RegExp][] = [
    ["unknown region", { region: "ap-northeast-9" }, {}, /region = "ap-northeast-9" \(from cdktf\.json context chatbot\.region\) is invalid; allowed: a known AWS region: .*ap-northeast-2/],
    ["endpoint name breaking SageMaker's rule", { endpointName: "falcon_7b" }, {}, /endpointName = "falcon_7b" .*SageMaker endpoint name rule/],
    ["endpoint name longer than 63 characters", { endpointName: "a".repeat(64) }, {}, /endpointName = "a{64}" .*1-63 letters/],
    ["retention CloudWatch does not accept", { logRetentionDays: 2 }, {}, /logRetentionDays = 2 .*allowed: a retention CloudWatch Logs accepts: 1, 3, 5, 7/],
    ["stage name API Gateway rejects", { stage: "my stage" }, {}, /stage = "my stage" .*API Gateway stage name rule/],
    ["Lambda timeout above 900 s", { lambdaTimeoutSeconds: 901 }, {}, /lambdaTimeoutSeconds = 901 .*a whole number from 1 to 900/],
    ["Lambda timeout of 0 s", { lambdaTimeoutSeconds: 0 }, {}, /lambdaTimeoutSeconds = 0 .*a whole number from 1 to 900/],
    ["integration timeout below 50 ms", { integrationTimeoutMs: 49 }, {}, /integrationTimeoutMs = 49 .*a whole number from 50 to 300000/],
    ["integration timeout above 29 s without the quota switch", { integrationTimeoutMs: 30000 }, {}, /integrationTimeoutMs = 30000 .*50-29000 ms; up to 300000 ms only with allowLongIntegrationTimeout=true/],
    ["integration timeout above 300 s even with the quota switch", { integrationTimeoutMs: 300001, allowLongIntegrationTimeout: true }, {}, /integrationTimeoutMs = 300001 .*from 50 to 300000/],
    ["unknown backend kind", { backend: "consul" }, {}, /backend = "consul" .*allowed: a backend kind: local, s3, cloud/],
    ["S3 backend without bucket", { backend: "s3" }, {}, /backend "s3" \(environment dev\) needs stateBucket/],
    ["Terraform Cloud backend without organization", { backend: "cloud", tfcWorkspace: "chatbot-dev" }, {}, /backend "cloud" \(environment dev\) needs tfcOrganization/],
    ["Terraform Cloud backend without workspace", { backend: "cloud", tfcOrganization: "acme" }, {}, /backend "cloud" \(environment dev\) needs tfcWorkspace/],
    ["two environments sharing one Terraform Cloud workspace", { backend: "cloud", tfcOrganization: "acme", tfcWorkspace: "chatbot", environments: { dev: {}, prod: {} } }, {}, /environments dev and prod share the Terraform Cloud workspace acme\/chatbot/],
    ["generation parameters that are not JSON", {}, { CHATBOT_GENERATION: "{temperature: 0.2" }, /environment variable CHATBOT_GENERATION="\{temperature: 0\.2" is not valid JSON/],
    ["generation parameters that are not an object", { generation: [1, 2] }, {}, /generation = \[1,2\] .*an object with any of: maxNewTokens/],
    ["an unknown generation parameter", { generation: { temprature: 0.2 } }, {}, /unknown generation parameter "temprature"/],
    ["a temperature of 0, which TGI rejects", { generation: { temperature: 0 } }, {}, /generation\.temperature = 0 .*greater than 0/],
    ["top_p of 1, which TGI rejects", { generation: { topP: 1 } }, {}, /generation\.topP = 1 .*strictly between 0 and 1/],
    ["a fractional max_new_tokens", { generation: { maxNewTokens: 10.5 } }, {}, /generation\.maxNewTokens = 10\.5 .*whole number from 1 to 8192/],
    ["stop sequences that are not strings", { generation: { stop: ["</s>", 3] } }, {}, /generation\.stop = \["<\/s>",3\] .*at most 4 non-empty strings/],
    ["the deprecated python3.9 runtime", { lambdaRuntime: "python3.9" }, {}, /lambdaRuntime = "python3\.9" .*python3\.9 is deprecated since 2025-12-15/],
    ["an unknown price class", { priceClass: "PriceClass_50" }, {}, /priceClass = "PriceClass_50" .*PriceClass_100, PriceClass_200, PriceClass_All/],
    ["a misspelt setting", { regoin: "us-east-1" }, {}, /unknown setting "regoin" in cdktf\.json context chatbot/],
    ["a boolean env var that is not true or false", {}, { CHATBOT_DATA_TRACE: "yes" }, /CHATBOT_DATA_TRACE="yes" is not a boolean/],
    ["a numeric env var that is not a number", {}, { CHATBOT_LAMBDA_TIMEOUT_SECONDS: "2m" }, /CHATBOT_LAMBDA_TIMEOUT_SECONDS="2m" is not a number/],
    ["an environment name that cannot be part of resource names", { environments: { Prod_1: {} } }, {}, /environment name "Prod_1" is invalid/],
    ["a function name too long once the environment is appended", { functionName: "f".repeat(62) }, {}, /functionName = "f{62}" .*with "-dev-role" appended \(its role's name\), is at most 64 characters/],
    ["an emulator endpoint that is not a URL", { awsEndpointUrl: "localhost:5000" }, {}, /awsEndpointUrl = "localhost:5000" .*http\(s\) URL/],
    ["an unsupported model", { modelId: "huggingface-llm-falcon-180b-chat-bf16" }, {}, /modelId = "huggingface-llm-falcon-180b-chat-bf16" .*allowed: a model of the catalogue \(stacks\/model\/catalogue\.ts\): huggingface-llm-falcon-7b-instruct-bf16, huggingface-llm-falcon-40b-instruct-bf16, tiiuae\/Falcon3-1B-Instruct, tiiuae\/Falcon3-3B-Instruct, tiiuae\/Falcon3-7B-Instruct, tiiuae\/Falcon3-10B-Instruct$/m],
    ["an instance type the model does not run on", { modelId: "huggingface-llm-falcon-40b-instruct-bf16", modelInstanceType: "ml.g5.2xlarge" }, {}, /modelInstanceType = "ml\.g5\.2xlarge" .*allowed: an instance type huggingface-llm-falcon-40b-instruct-bf16 runs on: ml\.g5\.12xlarge, ml\.g5\.24xlarge, ml\.g5\.48xlarge, ml\.p4d\.24xlarge/],
    ["an instance type given without the ml. prefix", {}, { CHATBOT_MODEL_INSTANCE_TYPE: "g5.2xlarge" }, /modelInstanceType = "g5\.2xlarge" \(from environment variable CHATBOT_MODEL_INSTANCE_TYPE\) .*ml\.g5\.2xlarge, ml\.g5\.4xlarge/],
    ["zero minimum instances (a real-time endpoint cannot scale to zero)", { modelMinInstances: 0 }, {}, /modelMinInstances = 0 .*a whole number from 1 to 20/],
    ["a maximum below the minimum", { modelMinInstances: 3, modelMaxInstances: 2 }, {}, /modelMaxInstances = 2 .*at least modelMinInstances \(3\)/],
    ["a maximum above the guard of 20 instances", { modelMaxInstances: 50 }, {}, /modelMaxInstances = 50 .*a whole number from 1 to 20/],
    ["deploying the model in a region without a TGI image", { modelDeploy: true, region: "us-gov-west-1" }, {}, /region = "us-gov-west-1" .*with modelDeploy, a region with a Hugging Face TGI image: af-south-1/],
    ["naming an existing endpoint while the stack deploys its own", { modelDeploy: true, endpointName: "my-falcon" }, {}, /endpointName = "my-falcon" .*unset when modelDeploy is true: the stack then creates and names its own endpoint, falcon-chatbot-dev/],
    ["max_new_tokens that leaves the model no room for a prompt", { generation: { maxNewTokens: 2048 } }, {}, /generation\.maxNewTokens = 2048 .*less than 2048, the total token limit of huggingface-llm-falcon-7b-instruct-bf16/],
    ["a model switch that is not a boolean", {}, { CHATBOT_MODEL_DEPLOY: "on" }, /CHATBOT_MODEL_DEPLOY="on" is not a boolean/],
    ["a streaming switch that is not a boolean", {}, { CHATBOT_STREAMING: "1" }, /CHATBOT_STREAMING="1" is not a boolean/],
    ["a streaming function named like the REST function", { streamFunctionName: "lambda-chat-api" }, {}, /streamFunctionName = "lambda-chat-api" .*a name other than functionName's/],
    ["a streaming function name too long for its role", { streamFunctionName: "s".repeat(60) }, {}, /streamFunctionName = "s{60}" .*with "-dev-role" appended/],
    ["WebSocket throttling of zero messages per second", { streamThrottlingRateLimit: 0 }, {}, /streamThrottlingRateLimit = 0 .*a number from 0\.001 to 10000/],
    ["a WebSocket burst above API Gateway's 5000", { streamThrottlingBurstLimit: 5001 }, {}, /streamThrottlingBurstLimit = 5001 .*a whole number from 0 to 5000/],
    ["no answers allowed per connection", { maxAnswersPerConnection: 0 }, {}, /maxAnswersPerConnection = 0 .*a whole number from 1 to 10000/],
    ["a WAF rate limit under WAF's minimum of 10", { wafRateLimit: 9 }, {}, /wafRateLimit = 9 .*a whole number from 10 to 2000000000/],
    ["a CIDR that is not one", {}, { CHATBOT_ALLOWED_IP_RANGES: "203.0.113.0/24, 10.0.0.300/8" }, /allowedIpRanges = "10\.0\.0\.300\/8" \(from environment variable CHATBOT_ALLOWED_IP_RANGES\) .*IPv4 or IPv6 CIDR ranges/],
    ["an address without a prefix length", { allowedIpRanges: ["203.0.113.7"] }, {}, /allowedIpRanges = "203\.0\.113\.7" .*CIDR ranges/],
    ["a /0 range, which WAF refuses", { allowedIpRanges: ["::/0"] }, {}, /allowedIpRanges = "::\/0" .*prefix \/1 or longer/],
    ["a malformed IPv6 range", { allowedIpRanges: ["2001:db8:::1/64"] }, {}, /allowedIpRanges = "2001:db8:::1\/64"/],
    ["allowed IP ranges that are not a list", { allowedIpRanges: "203.0.113.0/24" }, {}, /allowedIpRanges = "203\.0\.113\.0\/24" .*a list of IPv4 or IPv6 CIDR ranges/],
    ["an unknown country code", { allowedCountries: ["KR", "UK"] }, {}, /allowedCountries = "UK" .*ISO 3166 alpha-2 country codes/],
    ["a lower-case country code", {}, { CHATBOT_ALLOWED_COUNTRIES: "kr" }, /allowedCountries = "kr" .*in capitals/],
    ["allow-lists without the WAF that enforces them", { waf: false, allowedCountries: ["KR"] }, {}, /allowedCountries = \["KR"\] .*empty when waf is false/],
    ["a negative daily quota", { dailyRequestQuota: -1 }, {}, /dailyRequestQuota = -1 .*a whole number from 0 to 2000000000/],
    ["a domain without a zone or a certificate", { domainName: "chat.example.com" }, {}, /domainName = "chat\.example\.com" .*together with hostedZoneId .* or certificateArn/],
    ["a domain name that is not a host name", { domainName: "https://chat.example.com", hostedZoneId: "Z0123456789ABCDEFGHIJ" }, {}, /domainName = "https:\/\/chat\.example\.com" .*a lower-case host name/],
    ["a certificate outside us-east-1", { domainName: "chat.example.com", certificateArn: "arn:aws:acm:ap-northeast-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" }, {}, /certificateArn = "arn:aws:acm:ap-northeast-2:.*in us-east-1, the only region CloudFront reads certificates from/],
    ["a hosted zone without a domain", { hostedZoneId: "Z0123456789ABCDEFGHIJ" }, {}, /hostedZoneId = "Z0123456789ABCDEFGHIJ" .*set only together with domainName/],
    ["an alarm e-mail that is not one address", { alarmEmail: "ops@example.com, dev@example.com" }, {}, /alarmEmail = "ops@example\.com, dev@example\.com" .*one e-mail address/],
    ["an alarm e-mail without a domain", {}, { CHATBOT_ALARM_EMAIL: "ops@localhost" }, /alarmEmail = "ops@localhost" \(from environment variable CHATBOT_ALARM_EMAIL\)/],
    ["a budget of zero dollars", { budgetMonthlyUsd: 0 }, {}, /budgetMonthlyUsd = 0 .*a positive amount of US dollars/],
    ["a budget that is not a number", {}, { CHATBOT_BUDGET_MONTHLY_USD: "1,500" }, /CHATBOT_BUDGET_MONTHLY_USD="1,500" is not a number/],
    ["a tracing switch that is not a boolean", { tracing: "yes" }, {}, /tracing = "yes" .*true or false/],
    ["a hosted zone id in lower case", { domainName: "chat.example.com", hostedZoneId: "z0123" }, {}, /hostedZoneId = "z0123" .*Route 53 hosted zone id/],
  ];

  it.each(cases)("rejects %s", (_what, context, env, expected) => {
    expect(problemOf(context, env)).toMatch(expected);
  });

  it("reports every problem at once", () => {
    const message = problemOf({ region: "nowhere", logRetentionDays: 2, stage: "a b" });
    expect(message.split("\n").filter((l) => l.startsWith("  - "))).toHaveLength(3);
  });

  it("names the environment variable a bad value came from", () => {
    expect(problemOf({}, { CHATBOT_REGION: "mars-1" })).toMatch(/region = "mars-1" \(from environment variable CHATBOT_REGION\)/);
  });
});
