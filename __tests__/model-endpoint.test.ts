import { Testing } from "cdktf";
import { MODELS } from "../stacks/model/catalogue";
import { ModelEndpoint, ModelEndpointOptions } from "../stacks/model/model-endpoint";
import { StackJson, byId, environmentConfig, only, policy, resourcesOf, synthStack } from "./helpers";

const FALCON_7B = MODELS["huggingface-llm-falcon-7b-instruct-bf16"];
const FALCON_40B = MODELS["huggingface-llm-falcon-40b-instruct-bf16"];
const REF = (type: string, attribute: string) => new RegExp(`^\\$\\{${type}\\.[\\w-]+\\.${attribute}\\}$`);

function synthEndpoint(options: Partial<ModelEndpointOptions> = {}): StackJson {
  return JSON.parse(
    Testing.synthScope((scope) => {
      new ModelEndpoint(scope, "model-endpoint", {
        endpointName: "falcon-chatbot-dev",
        model: FALCON_7B,
        region: "ap-northeast-2",
        partition: "aws",
        accountId: "123456789012",
        ...options,
      });
    }),
  );
}

describe("ModelEndpoint", () => {
  const json = synthEndpoint();

  it("serves JumpStart's prepacked, uncompressed artifacts with network isolation on", () => {
    const model = only(json, "aws_sagemaker_model");
    expect(model.enable_network_isolation).toBe(true);
    expect(model.primary_container.model_data_source).toEqual({
      s3_data_source: [
        {
          s3_uri: "s3://jumpstart-cache-prod-ap-northeast-2/huggingface-llm/huggingface-llm-falcon-7b-instruct-bf16/artifacts/inference-prepack/v2.0.0/",
          s3_data_type: "S3Prefix",
          compression_type: "None",
        },
      ],
    });
    expect(model.primary_container.mode).toBe("SingleModel");
    expect(model.execution_role_arn).toMatch(REF("aws_iam_role", "arn"));
  });

  it("leaves the model's name to the provider and creates a changed model before deleting the old", () => {
    const model = only(json, "aws_sagemaker_model");
    expect(model.name).toBeUndefined();
    expect(model.lifecycle).toEqual({ create_before_destroy: true });
  });

  it("gives the container the environment JumpStart uses", () => {
    expect(only(json, "aws_sagemaker_model").primary_container.environment).toEqual({
      HF_MODEL_ID: "/opt/ml/model",
      MODEL_CACHE_ROOT: "/opt/ml/model",
      SM_NUM_GPUS: "1",
      MAX_INPUT_LENGTH: "1024",
      MAX_TOTAL_TOKENS: "2048",
      SAGEMAKER_MODEL_SERVER_TIMEOUT: "3600",
      ENDPOINT_SERVER_TIMEOUT: "3600",
      SAGEMAKER_MODEL_SERVER_WORKERS: "1",
      SAGEMAKER_ENV: "1",
      SAGEMAKER_CONTAINER_LOG_LEVEL: "20",
      SAGEMAKER_PROGRAM: "inference.py",
    });
  });

  it.each([
    ["us-east-1", "763104351884"],
    ["ap-northeast-2", "763104351884"],
    ["eu-west-1", "763104351884"],
    ["ap-east-1", "871362719292"],
    ["me-central-1", "914824155844"],
  ])("pulls the TGI image from the ECR account of %s and reads that region's artifact bucket", (region, account) => {
    const regional = synthEndpoint({ region });
    const model = only(regional, "aws_sagemaker_model");
    expect(model.primary_container.image).toBe(
      `${account}.dkr.ecr.${region}.amazonaws.com/huggingface-pytorch-tgi-inference:2.4.0-tgi2.4.0-gpu-py311-cu124-ubuntu22.04`,
    );
    expect(model.primary_container.model_data_source.s3_data_source[0].s3_uri).toMatch(new RegExp(`^s3://jumpstart-cache-prod-${region}/`));
    const statements = policy(only(regional, "aws_iam_role_policy").policy).Statement;
    expect(statements.find((s) => s.Sid === "PullTheImage").Resource).toEqual([`arn:aws:ecr:${region}:${account}:repository/huggingface-pytorch-tgi-inference`]);
  });

  it("shards Falcon 40B over every GPU of its instance type", () => {
    const big = synthEndpoint({ model: FALCON_40B, instanceType: "ml.g5.48xlarge" });
    expect(only(big, "aws_sagemaker_model").primary_container.environment.SM_NUM_GPUS).toBe("8");
    expect(only(synthEndpoint({ model: FALCON_40B }), "aws_sagemaker_model").primary_container.environment.SM_NUM_GPUS).toBe("4");
  });

  it("runs one AllTraffic variant with long startup timeouts and least-outstanding-requests routing", () => {
    const config = only(json, "aws_sagemaker_endpoint_configuration");
    expect(config.production_variants).toEqual([
      {
        variant_name: "AllTraffic",
        model_name: expect.stringMatching(REF("aws_sagemaker_model", "name")),
        instance_type: "ml.g5.2xlarge",
        initial_instance_count: 1,
        model_data_download_timeout_in_seconds: 900,
        container_startup_health_check_timeout_in_seconds: 900,
        routing_config: [{ routing_strategy: "LEAST_OUTSTANDING_REQUESTS" }],
      },
    ]);
    const big = only(synthEndpoint({ model: FALCON_40B }), "aws_sagemaker_endpoint_configuration").production_variants[0];
    expect([big.instance_type, big.model_data_download_timeout_in_seconds, big.container_startup_health_check_timeout_in_seconds]).toEqual(["ml.g5.12xlarge", 1500, 1500]);
  });

  it("names endpoint configurations by prefix and creates a new one before deleting the old", () => {
    const config = only(json, "aws_sagemaker_endpoint_configuration");
    expect(config.name).toBeUndefined();
    expect(config.name_prefix).toBe("falcon-chatbot-dev-");
    expect(config.lifecycle).toEqual({ create_before_destroy: true });
  });

  it("switches the named endpoint to a new configuration with a blue/green update", () => {
    const endpoint = only(json, "aws_sagemaker_endpoint");
    expect(endpoint.name).toBe("falcon-chatbot-dev");
    expect(endpoint.endpoint_config_name).toMatch(REF("aws_sagemaker_endpoint_configuration", "name"));
    expect(endpoint.lifecycle).toBeUndefined();
    expect(endpoint.deployment_config).toEqual({
      blue_green_update_policy: {
        traffic_routing_configuration: { type: "ALL_AT_ONCE", wait_interval_in_seconds: 0 },
        termination_wait_in_seconds: 0,
        maximum_execution_timeout_in_seconds: 3600,
      },
    });
  });

  it("starts with the minimum instances, so an update resets the endpoint to a count autoscaling accepts", () => {
    const scaled = synthEndpoint({ minInstances: 2, maxInstances: 4 });
    expect(only(scaled, "aws_sagemaker_endpoint_configuration").production_variants[0].initial_instance_count).toBe(2);
    expect(only(scaled, "aws_appautoscaling_target")).toMatchObject({ min_capacity: 2, max_capacity: 4 });
  });

  it("registers the variant for autoscaling between the minimum and maximum instances", () => {
    expect(only(json, "aws_appautoscaling_target")).toMatchObject({
      service_namespace: "sagemaker",
      resource_id: expect.stringMatching(/^endpoint\/\$\{aws_sagemaker_endpoint\.[\w-]+\.name\}\/variant\/AllTraffic$/),
      scalable_dimension: "sagemaker:variant:DesiredInstanceCount",
      min_capacity: 1,
      max_capacity: 2,
    });
  });

  it("tracks concurrent requests per instance, scaling out faster than in", () => {
    const scalingPolicy = only(json, "aws_appautoscaling_policy");
    expect(scalingPolicy).toMatchObject({
      name: "falcon-chatbot-dev-concurrent-requests",
      policy_type: "TargetTrackingScaling",
      resource_id: expect.stringMatching(REF("aws_appautoscaling_target", "resource_id")),
      target_tracking_scaling_policy_configuration: {
        predefined_metric_specification: { predefined_metric_type: "SageMakerVariantConcurrentRequestsPerModelHighResolution" },
        target_value: 5,
        scale_out_cooldown: 300,
        scale_in_cooldown: 600,
      },
    });
  });

  it("re-registers autoscaling whenever the endpoint configuration is replaced, so an instance-type update is not refused", () => {
    const configAddress = Object.keys(json.resource.aws_sagemaker_endpoint_configuration).map((id) => `aws_sagemaker_endpoint_configuration.${id}`);
    expect(only(json, "aws_appautoscaling_target").lifecycle).toEqual({ replace_triggered_by: configAddress });
    expect(only(json, "aws_appautoscaling_policy").lifecycle).toEqual({ replace_triggered_by: configAddress });
  });

  it("leaves autoscaling out when the minimum equals the maximum", () => {
    const fixed = synthEndpoint({ minInstances: 2, maxInstances: 2 });
    expect(resourcesOf(fixed, "aws_appautoscaling_target")).toEqual([]);
    expect(resourcesOf(fixed, "aws_appautoscaling_policy")).toEqual([]);
  });

  it("lets only SageMaker, on behalf of this account, assume the execution role", () => {
    expect(policy(only(json, "aws_iam_role").assume_role_policy)).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: "sagemaker.amazonaws.com" },
          Action: "sts:AssumeRole",
          Condition: { StringEquals: { "aws:SourceAccount": "123456789012" } },
        },
      ],
    });
    expect(resourcesOf(json, "aws_iam_role_policy_attachment")).toEqual([]);
  });

  it("lets the execution role pull its image, read its artifacts and write its own logs and metrics, nothing else", () => {
    const prefix = "huggingface-llm/huggingface-llm-falcon-7b-instruct-bf16/artifacts/inference-prepack/v2.0.0/";
    expect(policy(only(json, "aws_iam_role_policy").policy)).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "PullTheImage",
          Effect: "Allow",
          Action: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
          Resource: ["arn:aws:ecr:ap-northeast-2:763104351884:repository/huggingface-pytorch-tgi-inference"],
        },
        { Sid: "GetRegistryToken", Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: ["*"] },
        { Sid: "ReadModelArtifacts", Effect: "Allow", Action: ["s3:GetObject"], Resource: [`arn:aws:s3:::jumpstart-cache-prod-ap-northeast-2/${prefix}*`] },
        {
          Sid: "ListModelArtifacts",
          Effect: "Allow",
          Action: ["s3:ListBucket"],
          Resource: ["arn:aws:s3:::jumpstart-cache-prod-ap-northeast-2"],
          Condition: { StringLike: { "s3:prefix": [`${prefix}*`] } },
        },
        {
          Sid: "WriteOwnLogs",
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
          Resource: [expect.stringMatching(/^\$\{aws_cloudwatch_log_group\.[\w-]+\.arn\}:\*$/)],
        },
        {
          Sid: "PublishEndpointMetrics",
          Effect: "Allow",
          Action: ["cloudwatch:PutMetricData"],
          Resource: ["*"],
          Condition: { StringEquals: { "cloudwatch:namespace": "/aws/sagemaker/Endpoints" } },
        },
      ],
    });
  });

  it("never grants a wildcard action", () => {
    const actions = policy(only(json, "aws_iam_role_policy").policy).Statement.flatMap((s) => s.Action);
    expect(actions.filter((a: string) => a.includes("*"))).toEqual([]);
  });

  it("creates the endpoint's log group with the retention before the endpoint", () => {
    expect(only(json, "aws_cloudwatch_log_group")).toMatchObject({ name: "/aws/sagemaker/Endpoints/falcon-chatbot-dev", retention_in_days: 1 });
    const logGroup = Object.keys(json.resource.aws_cloudwatch_log_group).map((id) => `aws_cloudwatch_log_group.${id}`);
    expect(only(json, "aws_sagemaker_endpoint").depends_on).toEqual(logGroup);
  });

  it("refuses an instance type the model does not run on, naming the ones it does", () => {
    expect(() => synthEndpoint({ model: FALCON_40B, instanceType: "ml.g5.2xlarge" })).toThrow(
      "huggingface-llm-falcon-40b-instruct-bf16 does not run on ml.g5.2xlarge; it runs on ml.g5.12xlarge, ml.g5.24xlarge, ml.g5.48xlarge, ml.p4d.24xlarge",
    );
  });

  it("refuses a name too long to prefix configuration names", () => {
    expect(() => synthEndpoint({ endpointName: "x".repeat(38) })).toThrow(/must be 1-37 letters, digits or hyphens/);
  });
});

describe("ChatbotStack with modelDeploy", () => {
  it("creates no SageMaker or autoscaling resource by default", () => {
    const json = synthStack();
    expect(Object.keys(json.resource).filter((type) => /sagemaker|appautoscaling/.test(type))).toEqual([]);
  });

  it("points both chat functions' endpoint variable and their model permission at the endpoint it creates", () => {
    const json = synthStack(environmentConfig({ modelDeploy: true }));
    expect(only(json, "aws_sagemaker_endpoint").name).toBe("falcon-chatbot-dev");
    const fn = byId(json, "aws_lambda_function", "chat-function");
    expect(fn.environment.variables.endpoint).toBe("falcon-chatbot-dev");
    const invoke = resourcesOf(json, "aws_iam_role_policy")
      .flatMap((p) => policy(p.policy).Statement)
      .filter((s) => s.Action.includes("sagemaker:InvokeEndpoint"));
    // The REST function and the streaming function.
    const arn = "arn:${data.aws_partition.partition.partition}:sagemaker:ap-northeast-2:${data.aws_caller_identity.caller.account_id}:endpoint/falcon-chatbot-dev";
    expect(invoke.map((s) => s.Resource)).toEqual([[arn], [arn]]);
    expect(byId(json, "aws_lambda_function", "stream-function").environment.variables.endpoint).toBe("falcon-chatbot-dev");
    expect(json.output!.ModelEndpointName.value).toBe("falcon-chatbot-dev");
  });

  it("deploys the configured model, instance type and scaling", () => {
    const json = synthStack(
      environmentConfig({ modelDeploy: true, modelId: "huggingface-llm-falcon-40b-instruct-bf16", modelInstanceType: "ml.p4d.24xlarge", modelMinInstances: 2, modelMaxInstances: 3 }),
    );
    expect(only(json, "aws_sagemaker_endpoint_configuration").production_variants[0]).toMatchObject({ instance_type: "ml.p4d.24xlarge", initial_instance_count: 2 });
    expect(only(json, "aws_appautoscaling_target")).toMatchObject({ min_capacity: 2, max_capacity: 3 });
  });

  it("passes the model's token limits to the chat function", () => {
    const vars = byId(synthStack(), "aws_lambda_function", "chat-function").environment.variables;
    expect([vars.MODEL_MAX_INPUT_TOKENS, vars.MODEL_MAX_TOTAL_TOKENS]).toEqual(["1024", "2048"]);
  });
});
