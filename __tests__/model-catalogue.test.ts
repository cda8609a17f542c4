import { Testing } from "cdktf";
import { loadConfig } from "../stacks/config";
import { DEFAULT_SYSTEM_PROMPT } from "../stacks/config/environment";
import { MAX_STARTUP_SECONDS, MODELS, PROVIDER_INSERVICE_WAIT_SECONDS } from "../stacks/model/catalogue";
import { ModelEndpoint, ModelEndpointOptions } from "../stacks/model/model-endpoint";
import { StackJson, byId, environmentConfig, only, policy, synthStack } from "./helpers";

function synthEndpoint(options: Partial<ModelEndpointOptions> & Pick<ModelEndpointOptions, "model">): StackJson {
  return JSON.parse(
    Testing.synthScope((scope) => {
      new ModelEndpoint(scope, "model-endpoint", {
        endpointName: "falcon-chatbot-dev",
        region: "ap-northeast-2",
        partition: "aws",
        accountId: "123456789012",
        ...options,
      });
    }),
  );
}

const statements = (json: StackJson) => policy(only(json, "aws_iam_role_policy").policy).Statement;
const problemsOf = (context: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string => {
  try {
    loadConfig(context, env);
  } catch (error) {
    return (error as Error).message;
  }
  return "";
};

// Regions sharing the main ECR account, and one with its own (af-south-1) and a newer one (mx-central-1).
const REGIONS: [string, string][] = [
  ["us-east-1", "763104351884"],
  ["ap-northeast-2", "763104351884"],
  ["af-south-1", "626614931356"],
  ["mx-central-1", "637423239942"],
];

const FALCON3 = ["tiiuae/Falcon3-1B-Instruct", "tiiuae/Falcon3-3B-Instruct", "tiiuae/Falcon3-7B-Instruct", "tiiuae/Falcon3-10B-Instruct"];

describe("the model catalogue", () => {
  describe.each(FALCON3)("%s", (id) => {
    const model = MODELS[id];

    it.each(REGIONS)("in %s pulls TGI 3.3.6 from the region's ECR account %s", (region, account) => {
      const json = synthEndpoint({ model, region });
      expect(only(json, "aws_sagemaker_model").primary_container.image).toBe(
        `${account}.dkr.ecr.${region}.amazonaws.com/huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04`,
      );
      expect(statements(json).find((s) => s.Sid === "PullTheImage").Resource).toEqual([
        `arn:aws:ecr:${region}:${account}:repository/huggingface-pytorch-tgi-inference`,
      ]);
    });

    it("downloads the weights from the Hub with network isolation off and no S3 access", () => {
      const json = synthEndpoint({ model });
      const sm = only(json, "aws_sagemaker_model");
      expect(sm.enable_network_isolation).toBe(false);
      expect(sm.primary_container.model_data_source).toBeUndefined();
      expect(sm.primary_container.environment.HF_MODEL_ID).toBe(id);
      expect(statements(json).map((s) => s.Sid)).toEqual(["PullTheImage", "GetRegistryToken", "WriteOwnLogs", "PublishEndpointMetrics"]);
    });

    it("reads the weights from modelDataS3Uri with network isolation on, the role limited to that prefix", () => {
      const json = synthEndpoint({ model, modelDataS3Uri: "s3://my-models/falcon3/7b/" });
      const sm = only(json, "aws_sagemaker_model");
      expect(sm.enable_network_isolation).toBe(true);
      expect(sm.primary_container.model_data_source).toEqual({
        s3_data_source: [{ s3_uri: "s3://my-models/falcon3/7b/", s3_data_type: "S3Prefix", compression_type: "None" }],
      });
      expect(sm.primary_container.environment.HF_MODEL_ID).toBe("/opt/ml/model");
      const bySid = Object.fromEntries(statements(json).map((s) => [s.Sid, s]));
      expect(bySid.ReadModelArtifacts).toMatchObject({ Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::my-models/falcon3/7b/*"] });
      expect(bySid.ListModelArtifacts).toMatchObject({
        Action: ["s3:ListBucket"],
        Resource: ["arn:aws:s3:::my-models"],
        Condition: { StringLike: { "s3:prefix": ["falcon3/7b/*"] } },
      });
    });

    it("sets the token limits with the names TGI 3 reads, and one shard per GPU", () => {
      const env = only(synthEndpoint({ model }), "aws_sagemaker_model").primary_container.environment;
      expect(env).toEqual({
        HF_MODEL_ID: id,
        SM_NUM_GPUS: String(model.instanceTypes[model.defaultInstanceType].gpus),
        MAX_INPUT_TOKENS: String(model.maxInputTokens),
        MAX_TOTAL_TOKENS: String(model.maxTotalTokens),
      });
      expect(env.MAX_INPUT_LENGTH).toBeUndefined(); // TGI 3 refuses both names at once
      expect(model.maxInputTokens).toBeLessThan(model.maxTotalTokens);
    });

    it("talks to the model through the Messages API, with Falcon 3's token calibration", () => {
      expect([model.payloadStyle, model.tokenizer, model.licence]).toEqual(["messages", "falcon3", "TII Falcon-LLM License 2.0"]);
      expect(model.languages).toEqual(["English", "French", "Spanish", "Portuguese"]);
    });
  });

  it("gives Falcon 3 its 32K window (8K for the 1B) and the 2023 Falcons their 2K one", () => {
    const windows = Object.fromEntries(Object.values(MODELS).map((m) => [m.id, [m.maxInputTokens, m.maxTotalTokens]]));
    expect(windows).toEqual({
      "huggingface-llm-falcon-7b-instruct-bf16": [1024, 2048],
      "huggingface-llm-falcon-40b-instruct-bf16": [1024, 2048],
      "tiiuae/Falcon3-1B-Instruct": [7168, 8192],
      "tiiuae/Falcon3-3B-Instruct": [31744, 32768],
      "tiiuae/Falcon3-7B-Instruct": [31744, 32768],
      "tiiuae/Falcon3-10B-Instruct": [31744, 32768],
    });
  });

  it("runs Falcon3-10B by default on four 24 GB GPUs: its 20.6 GB of bf16 weights do not fit one", () => {
    const model = MODELS["tiiuae/Falcon3-10B-Instruct"];
    expect(model.defaultInstanceType).toBe("ml.g5.12xlarge");
    expect(Object.keys(model.instanceTypes)).not.toContain("ml.g5.2xlarge");
    const env = only(synthEndpoint({ model }), "aws_sagemaker_model").primary_container.environment;
    expect(env.SM_NUM_GPUS).toBe("4");
    expect(only(synthEndpoint({ model, instanceType: "ml.g6e.xlarge" }), "aws_sagemaker_model").primary_container.environment.SM_NUM_GPUS).toBe("1");
  });

  it("refuses an instance type a Falcon 3 model does not fit or shard on, naming the ones it does", () => {
    expect(() => synthEndpoint({ model: MODELS["tiiuae/Falcon3-10B-Instruct"], instanceType: "ml.g5.2xlarge" })).toThrow(
      "tiiuae/Falcon3-10B-Instruct does not run on ml.g5.2xlarge; it runs on ml.g5.12xlarge, ml.g5.24xlarge, ml.g6e.xlarge, ml.g6e.2xlarge",
    );
    expect(problemsOf({ modelDeploy: true, modelId: "tiiuae/Falcon3-7B-Instruct", modelInstanceType: "ml.g5.48xlarge" })).toMatch(
      /modelInstanceType = "ml\.g5\.48xlarge" .*an instance type tiiuae\/Falcon3-7B-Instruct runs on: ml\.g5\.xlarge, ml\.g5\.2xlarge, ml\.g5\.4xlarge, ml\.g5\.8xlarge, ml\.g5\.12xlarge, ml\.g6e\.xlarge/,
    );
  });

  it("keeps the seed's Falcon 7B on JumpStart's artifacts, TGI 2.4 and its environment, with isolation on", () => {
    const json = synthEndpoint({ model: MODELS["huggingface-llm-falcon-7b-instruct-bf16"], region: "af-south-1" });
    const sm = only(json, "aws_sagemaker_model");
    expect(sm.enable_network_isolation).toBe(true);
    expect(sm.primary_container.image).toBe("626614931356.dkr.ecr.af-south-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.4.0-tgi2.4.0-gpu-py311-cu124-ubuntu22.04");
    expect(sm.primary_container.model_data_source.s3_data_source[0].s3_uri).toBe(
      "s3://jumpstart-cache-prod-af-south-1/huggingface-llm/huggingface-llm-falcon-7b-instruct-bf16/artifacts/inference-prepack/v2.0.0/",
    );
    expect(sm.primary_container.environment).toMatchObject({ HF_MODEL_ID: "/opt/ml/model", MAX_INPUT_LENGTH: "1024", MAX_TOTAL_TOKENS: "2048" });
  });

  describe("Falcon 40B deploys as JumpStart does", () => {
    const model = MODELS["huggingface-llm-falcon-40b-instruct-bf16"];

    it.each(REGIONS)("in %s: JumpStart's v1.0.1 artifacts and TGI 1.4.0 image from account %s", (region, account) => {
      const sm = only(synthEndpoint({ model, region }), "aws_sagemaker_model");
      expect(sm.primary_container.image).toBe(`${account}.dkr.ecr.${region}.amazonaws.com/huggingface-pytorch-tgi-inference:2.1.1-tgi1.4.0-gpu-py310-cu121-ubuntu20.04`);
      expect(sm.primary_container.model_data_source.s3_data_source[0].s3_uri).toBe(
        `s3://jumpstart-cache-prod-${region}/huggingface-llm/huggingface-llm-falcon-40b-instruct-bf16/artifacts/inference-prepack/v1.0.1/`,
      );
      expect(sm.enable_network_isolation).toBe(true);
    });

    it.each([
      ["ml.g5.12xlarge", { SM_NUM_GPUS: "4", MAX_BATCH_PREFILL_TOKENS: "2048", MAX_BATCH_TOTAL_TOKENS: "2048" }],
      ["ml.g5.24xlarge", { SM_NUM_GPUS: "4", MAX_BATCH_PREFILL_TOKENS: "2048", MAX_BATCH_TOTAL_TOKENS: "2048" }],
      ["ml.g5.48xlarge", { SM_NUM_GPUS: "8" }],
      ["ml.p4d.24xlarge", { SM_NUM_GPUS: "8" }],
    ])("on %s sets JumpStart's environment for that instance type", (instanceType, expected) => {
      const env = only(synthEndpoint({ model, instanceType }), "aws_sagemaker_model").primary_container.environment;
      expect(env).toMatchObject({ ...expected, MAX_INPUT_LENGTH: "1024", MAX_TOTAL_TOKENS: "2048" });
      if (!("MAX_BATCH_PREFILL_TOKENS" in expected)) expect(env.MAX_BATCH_PREFILL_TOKENS).toBeUndefined();
    });
  });

  it("keeps every start within the provider's fixed 60-minute wait for InService, as the blue/green limit does", () => {
    for (const model of Object.values(MODELS)) expect(model.startupTimeoutSeconds).toBeLessThanOrEqual(MAX_STARTUP_SECONDS);
    for (const model of Object.values(MODELS)) {
      const json = synthEndpoint({ model });
      const variant = only(json, "aws_sagemaker_endpoint_configuration").production_variants[0];
      const total = (variant.model_data_download_timeout_in_seconds ?? 0) + variant.container_startup_health_check_timeout_in_seconds;
      expect(total).toBeLessThanOrEqual(MAX_STARTUP_SECONDS);
      expect(only(json, "aws_sagemaker_endpoint").deployment_config.blue_green_update_policy.maximum_execution_timeout_in_seconds).toBe(PROVIDER_INSERVICE_WAIT_SECONDS);
    }
  });

  it("refuses modelDataS3Uri for a JumpStart model and a URI that is not a prefix", () => {
    expect(() => synthEndpoint({ model: MODELS["huggingface-llm-falcon-7b-instruct-bf16"], modelDataS3Uri: "s3://b/p/" })).toThrow(/modelDataS3Uri is for Hugging Face Hub models/);
    expect(() => synthEndpoint({ model: MODELS["tiiuae/Falcon3-7B-Instruct"], modelDataS3Uri: "s3://b/model.tar.gz" })).toThrow(/must be an S3 prefix/);
  });
});

describe("model configuration", () => {
  it("defaults to Falcon3-7B with modelDeploy and to the seed's JumpStart 7B without", () => {
    expect(environmentConfig({ modelDeploy: true }).modelId).toBe("tiiuae/Falcon3-7B-Instruct");
    expect(environmentConfig({}).modelId).toBe("huggingface-llm-falcon-7b-instruct-bf16");
    expect(environmentConfig({ modelDeploy: true, modelId: "huggingface-llm-falcon-7b-instruct-bf16" }).modelId).toBe("huggingface-llm-falcon-7b-instruct-bf16");
  });

  it("reads modelDataS3Uri from CHATBOT_MODEL_DATA_S3_URI", () => {
    expect(environmentConfig({ modelDeploy: true }, { CHATBOT_MODEL_DATA_S3_URI: "s3://my-models/falcon3-7b/" }).modelDataS3Uri).toBe("s3://my-models/falcon3-7b/");
  });

  it.each([
    ["not a prefix", { modelDeploy: true, modelDataS3Uri: "s3://my-models/falcon3-7b" }, /modelDataS3Uri = "s3:\/\/my-models\/falcon3-7b" .*a prefix ending in \//],
    ["without modelDeploy", { modelDataS3Uri: "s3://my-models/x/" }, /modelDataS3Uri .*unset unless modelDeploy is true/],
    ["for a JumpStart model", { modelDeploy: true, modelId: "huggingface-llm-falcon-40b-instruct-bf16", modelDataS3Uri: "s3://my-models/x/" }, /unset for huggingface-llm-falcon-40b-instruct-bf16: its weights are JumpStart's artifacts/],
  ])("rejects modelDataS3Uri %s", (_what, context, expected) => {
    expect(problemsOf(context)).toMatch(expected);
  });

  it("uses each payload style's generation defaults: greedy both ways, longer answers on the Messages API", () => {
    expect(environmentConfig({ modelDeploy: true }).generation).toEqual({ maxNewTokens: 1024, doSample: false, temperature: 0.7, topP: 0.9, stop: [] });
    expect(environmentConfig({}).generation).toMatchObject({ maxNewTokens: 512, topK: 1, repetitionPenalty: 1.03, stop: ["<|endoftext|>", "</s>"] });
  });

  it("rejects a set topK for a Messages API model, naming it; an unset one is no problem", () => {
    expect(problemsOf({ modelDeploy: true, generation: { topK: 5 } })).toMatch(/generation\.topK = 5 .*unset for tiiuae\/Falcon3-7B-Instruct: TGI's Messages API has no top_k/);
    expect(problemsOf({ modelDeploy: true, generation: { temperature: 0.3, doSample: true } })).toBe("");
  });

  it("accepts a repetition penalty for the Messages API only where presence_penalty can carry it", () => {
    expect(environmentConfig({ modelDeploy: true, generation: { repetitionPenalty: 1.1 } }).generation.repetitionPenalty).toBe(1.1);
    expect(problemsOf({ modelDeploy: true, generation: { repetitionPenalty: 5 } })).toMatch(/generation\.repetitionPenalty = 5 .*at most 4 .*presence_penalty/);
  });

  it("gives each model history limits its window can use", () => {
    expect(environmentConfig({ modelDeploy: true })).toMatchObject({ maxHistoryTurns: 40, maxHistoryChars: 24_000 });
    expect(environmentConfig({})).toMatchObject({ maxHistoryTurns: 10, maxHistoryChars: 8000 });
    expect(environmentConfig({ modelDeploy: true, maxHistoryTurns: 12 })).toMatchObject({ maxHistoryTurns: 12 });
  });

  describe("system prompt", () => {
    it("defaults to a short helpful-assistant instruction to answer in the user's language", () => {
      expect(environmentConfig({}).systemPrompt).toBe(DEFAULT_SYSTEM_PROMPT);
      expect(DEFAULT_SYSTEM_PROMPT).toMatch(/helpful assistant.*language/);
    });

    it("is read from CHATBOT_SYSTEM_PROMPT, and may be empty in cdktf.json to send none", () => {
      expect(environmentConfig({}, { CHATBOT_SYSTEM_PROMPT: "Answer briefly." }).systemPrompt).toBe("Answer briefly.");
      expect(environmentConfig({ systemPrompt: "" }).systemPrompt).toBe("");
    });

    it.each([
      ["longer than 1000 characters", { systemPrompt: "a".repeat(1001) }, /systemPrompt = "a{1001}" .*at most 1000 characters/],
      ["with control characters", { systemPrompt: "be nice\u0007" }, /systemPrompt = .*no control characters/],
      ["not a string", { systemPrompt: 42 }, /systemPrompt = 42 .*at most 1000 characters/],
      ["over half the 2023 7B's input budget", { systemPrompt: "가".repeat(200) }, /systemPrompt = .*for huggingface-llm-falcon-7b-instruct-bf16, at most 512 UTF-8 bytes/],
    ])("is rejected when %s", (_what, context, expected) => {
      expect(problemsOf(context)).toMatch(expected);
    });

    it("may be longer for a 32K model", () => {
      expect(environmentConfig({ modelDeploy: true, systemPrompt: "가".repeat(400) }).systemPrompt).toHaveLength(400);
    });
  });
});

describe("the chat functions' model settings", () => {
  /** The two functions that call the model (not the failure notice or the sign-up trigger). */
  const chatFunctions = (json: any): any[] => {
    const all = Object.values(json.resource.aws_lambda_function) as any[];
    const chat = all.filter((fn) => ["lambda_function.lambda_handler", "stream_function.lambda_handler"].includes(fn.handler));
    expect(chat).toHaveLength(2);
    return chat;
  };

  it("tell both functions to use the Messages API with Falcon 3's limits, without top_k or repetition penalty", () => {
    const json = synthStack(environmentConfig({ modelDeploy: true }));
    for (const fn of chatFunctions(json)) {
      const env = fn.environment.variables;
      expect(env).toMatchObject({
        PAYLOAD_STYLE: "messages",
        MODEL_TOKENIZER: "falcon3",
        SYSTEM_PROMPT: DEFAULT_SYSTEM_PROMPT,
        MODEL_MAX_INPUT_TOKENS: "31744",
        MODEL_MAX_TOTAL_TOKENS: "32768",
        MAX_NEW_TOKENS: "1024",
        DO_SAMPLE: "false",
        STOP_SEQUENCES: "[]",
        MAX_HISTORY_TURNS: "40",
        MAX_HISTORY_CHARS: "24000",
      });
      expect(env.TOP_K).toBeUndefined();
      expect(env.REPETITION_PENALTY).toBeUndefined();
    }
  });

  it("tell both functions to keep the seed's inputs payload for the seed's endpoint", () => {
    const json = synthStack(environmentConfig({}));
    for (const fn of chatFunctions(json)) {
      expect(fn.environment.variables).toMatchObject({
        PAYLOAD_STYLE: "inputs",
        MODEL_TOKENIZER: "falcon",
        MODEL_MAX_INPUT_TOKENS: "1024",
        MODEL_MAX_TOTAL_TOKENS: "2048",
        TOP_K: "1",
        REPETITION_PENALTY: "1.03",
        STOP_SEQUENCES: JSON.stringify(["<|endoftext|>", "</s>"]),
      });
    }
  });

  it("let the API schema accept the model's longer history", () => {
    const json = synthStack(environmentConfig({ modelDeploy: true }));
    const schema = JSON.parse(byId(json, "aws_api_gateway_model", "request-model").schema);
    expect(schema.properties.history.maxItems).toBe(40);
    expect(schema.properties.history.items.properties.content.maxLength).toBe(24_000);
  });
});
