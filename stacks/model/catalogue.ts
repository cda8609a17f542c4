/**
 * Every Falcon model the stack can serve, in one catalogue: the serving image, the
 * container environment per instance type, where the weights come from, the token limits,
 * how the functions talk to it (payload style), its languages and its licence.
 *
 * Sources (see ../shared/DESIGN.md, "The model endpoint" and "Falcon 3 and the Messages API"):
 * - Falcon 7B instruct (2023): JumpStart spec 4.6.16 of `huggingface-llm-falcon-7b-instruct-bf16`
 *   as generated into awslabs/generative-ai-cdk-constructs' jumpstart-models.json (image,
 *   environment, artifact prefix, instance types).
 * - Falcon 40B instruct (2023): JumpStart's own spec (every version up to 2.3.22, same file):
 *   artifacts under `inference-prepack/v1.0.1/`, image `2.1.1-tgi1.4.0-gpu-py310-cu121-ubuntu20.04`,
 *   `SM_NUM_GPUS` 4 (8 on g5.48xlarge and p4d.24xlarge), and on g5.12xlarge/g5.24xlarge
 *   also `MAX_BATCH_PREFILL_TOKENS` and `MAX_BATCH_TOTAL_TOKENS` 2048.
 * - Falcon 3 instruct (TII, December 2024): Hugging Face Hub `tiiuae/Falcon3-<size>-Instruct`,
 *   Llama architecture, 32K context (1B: 8K), EN/FR/ES/PT, TII Falcon-LLM License 2.0;
 *   bf16 weights 7B about 14.9 GB, 10B about 20.6 GB. Served by Hugging Face TGI 3.3.6
 *   (`2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04`, the newest TGI entry of
 *   sagemaker-python-sdk's `image_uri_config/huggingface-llm.json`). TGI 3 reads
 *   `MAX_INPUT_TOKENS` (`MAX_INPUT_LENGTH` is its legacy alias; setting both is an error) and
 *   `MAX_TOTAL_TOKENS`, and must have input < total (text-generation-inference v3.3.6,
 *   launcher/src/main.rs); it picks `MAX_BATCH_PREFILL_TOKENS` itself (chunked prefill),
 *   so that one is left unset. The SageMaker entrypoint maps `HF_MODEL_ID`, `SM_NUM_GPUS`
 *   and `HF_MODEL_REVISION` (sagemaker-entrypoint.sh of the same tag).
 *   Tensor parallelism splits the 12 attention and 4 key-value heads of the 3B/7B/10B,
 *   so 1, 2 or 4 shards work and 8 do not: no 8-GPU instance types for them.
 * - Prices: SageMaker real-time inference, on demand, us-east-1, USD per instance-hour,
 *   approximate; for the README's cost table only. Check https://aws.amazon.com/sagemaker/pricing/.
 */

/** An instance type a model runs on. */
export interface ModelInstanceType {
  /** GPUs on the instance; TGI shards the model over them (`SM_NUM_GPUS`). */
  readonly gpus: number;
  /** Approximate on-demand price, USD per hour (us-east-1). */
  readonly usdPerHour: number;
  /** Further container environment on this instance type (JumpStart's per-instance settings). @default none */
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * How the chat functions talk to the model:
 * - `inputs`: TGI's generate body `{"inputs": prompt, "parameters": {...}}` with a prompt the
 *   function formats (`User:` / `Falcon:` lines), answered with `generated_text`;
 * - `messages`: TGI's OpenAI-style Messages API `{"messages": [...]}`; the server applies
 *   the model's chat template, answers with `choices[0].message.content`.
 */
export type PayloadStyle = "inputs" | "messages";

/** Where the weights come from when the stack deploys the model. */
export type ModelWeights =
  /** JumpStart's prepacked, uncompressed artifacts in `jumpstart-cache-prod-<region>`; prefix ends in `/`. */
  | { readonly source: "jumpstart"; readonly artifactPrefix: string }
  /** The Hugging Face Hub (the container downloads them), or the user's S3 copy (`modelDataS3Uri`). */
  | { readonly source: "hub"; readonly hubId: string };

/** Token-count calibration of the functions' tokenizer stand-in (lambda-chat/model/prompt.py). */
export type TokenizerFamily = "falcon" | "falcon3";

/** One model, as the stack deploys it and the functions call it. */
export interface CatalogueModel {
  readonly id: string;
  /** Short name for descriptions. */
  readonly title: string;
  /** Parameters, e.g. "7B". */
  readonly size: string;
  readonly weights: ModelWeights;
  /** Tag of the Hugging Face TGI image in the `huggingface-pytorch-tgi-inference` repository. */
  readonly imageTag: string;
  /** Name of the input-token limit the image's TGI reads (`MAX_INPUT_LENGTH` before TGI 2.1, `MAX_INPUT_TOKENS` after). */
  readonly inputLimitName: "MAX_INPUT_LENGTH" | "MAX_INPUT_TOKENS";
  /** Most prompt tokens (TGI's input limit). */
  readonly maxInputTokens: number;
  /** Most prompt plus generated tokens (`MAX_TOTAL_TOKENS`). */
  readonly maxTotalTokens: number;
  /** The model's own context window, for the README. */
  readonly contextTokens: number;
  readonly payloadStyle: PayloadStyle;
  readonly tokenizer: TokenizerFamily;
  /** Instance types it runs on. */
  readonly instanceTypes: Readonly<Record<string, ModelInstanceType>>;
  /** One that fits its weights, KV cache and activations. */
  readonly defaultInstanceType: string;
  /**
   * Seconds SageMaker waits for the weights to download, and again for the container's first
   * healthy ping. Their sum is at most {@link MAX_STARTUP_SECONDS}: the aws provider waits a
   * fixed 60 minutes for `InService` (create and update), so a longer start fails the apply.
   */
  readonly startupTimeoutSeconds: number;
  /** Languages the model card lists. */
  readonly languages: readonly string[];
  readonly licence: string;
  /**
   * History the clients may send by default (`maxHistoryTurns`, `maxHistoryChars`): what the
   * window can use. The WebSocket's 32 KB frame still bounds a streamed request; a larger
   * one goes by POST /chat (site/answers.js).
   */
  readonly historyDefaults: { readonly maxHistoryTurns: number; readonly maxHistoryChars: number };
}

/**
 * The aws provider waits a fixed 60 minutes for an endpoint to be `InService` after a create
 * or an update (not configurable). The blue/green update's own limit is set to the same, and
 * every model's start (weight download, then the health check) is kept to at most
 * {@link MAX_STARTUP_SECONDS}, leaving ten minutes for SageMaker to provision the instances.
 */
export const PROVIDER_INSERVICE_WAIT_SECONDS = 3600;
export const MAX_STARTUP_SECONDS = 3000;

export const TGI_IMAGE_REPOSITORY = "huggingface-pytorch-tgi-inference";
const TGI_2_4 = "2.4.0-tgi2.4.0-gpu-py311-cu124-ubuntu22.04";
const TGI_1_4 = "2.1.1-tgi1.4.0-gpu-py310-cu121-ubuntu20.04";
const TGI_3_3 = "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04";

const FALCON_2023_LANGUAGES = ["English", "German", "Spanish", "French"];
const FALCON_3_LANGUAGES = ["English", "French", "Spanish", "Portuguese"];
const FALCON_3_LICENCE = "TII Falcon-LLM License 2.0";
// 2K window: five exchanges of a page's length, as before.
const SHORT_WINDOW_HISTORY = { maxHistoryTurns: 10, maxHistoryChars: 8000 };
// 32K window: about 24,000 characters of history (at most 3 bytes a token for Korean and
// about 4 characters a token for English, it fits the input limit with the question and
// the answer), in up to 40 turns; most of it still fits a 32 KB WebSocket frame in English.
const LONG_WINDOW_HISTORY = { maxHistoryTurns: 40, maxHistoryChars: 24_000 };

/**
 * A Falcon 3 entry. Limits leave room for `maxNewTokens` (default 1024) within the 32K window;
 * on one 24 GB A10G the 7B's 14.9 GB of weights leave about 7 GB, KV cache of 112 KiB a token
 * (28 layers x 4 heads x 256 x 2 x 2 bytes), i.e. one full 32K sequence at a time.
 */
function falcon3(size: string, fields: Pick<CatalogueModel, "instanceTypes" | "defaultInstanceType" | "startupTimeoutSeconds"> & { contextTokens?: number }): CatalogueModel {
  const contextTokens = fields.contextTokens ?? 32_768;
  return {
    id: `tiiuae/Falcon3-${size}-Instruct`,
    title: `Falcon 3 ${size} instruct`,
    size,
    weights: { source: "hub", hubId: `tiiuae/Falcon3-${size}-Instruct` },
    imageTag: TGI_3_3,
    inputLimitName: "MAX_INPUT_TOKENS",
    maxInputTokens: contextTokens - 1024,
    maxTotalTokens: contextTokens,
    contextTokens,
    payloadStyle: "messages",
    tokenizer: "falcon3",
    languages: FALCON_3_LANGUAGES,
    licence: FALCON_3_LICENCE,
    historyDefaults: contextTokens >= 32_768 ? LONG_WINDOW_HISTORY : { maxHistoryTurns: 20, maxHistoryChars: 12_000 },
    instanceTypes: fields.instanceTypes,
    defaultInstanceType: fields.defaultInstanceType,
    startupTimeoutSeconds: fields.startupTimeoutSeconds,
  };
}

const G5_SINGLE_GPU = {
  "ml.g5.xlarge": { gpus: 1, usdPerHour: 1.408 },
  "ml.g5.2xlarge": { gpus: 1, usdPerHour: 1.515 },
  "ml.g5.4xlarge": { gpus: 1, usdPerHour: 2.03 },
  "ml.g5.8xlarge": { gpus: 1, usdPerHour: 3.06 },
};

export const MODELS: Readonly<Record<string, CatalogueModel>> = {
  "huggingface-llm-falcon-7b-instruct-bf16": {
    id: "huggingface-llm-falcon-7b-instruct-bf16",
    title: "Falcon 7B instruct (2023)",
    size: "7B",
    weights: { source: "jumpstart", artifactPrefix: "huggingface-llm/huggingface-llm-falcon-7b-instruct-bf16/artifacts/inference-prepack/v2.0.0/" },
    imageTag: TGI_2_4,
    // JumpStart's environment uses the legacy name; TGI 2.4 still reads it.
    inputLimitName: "MAX_INPUT_LENGTH",
    maxInputTokens: 1024,
    maxTotalTokens: 2048,
    contextTokens: 2048,
    // Kept: existing endpoints serve it this way, and its JumpStart artifacts may carry no chat template.
    payloadStyle: "inputs",
    tokenizer: "falcon",
    languages: FALCON_2023_LANGUAGES,
    licence: "Apache 2.0",
    historyDefaults: SHORT_WINDOW_HISTORY,
    defaultInstanceType: "ml.g5.2xlarge",
    instanceTypes: {
      "ml.g5.2xlarge": { gpus: 1, usdPerHour: 1.515 },
      "ml.g5.4xlarge": { gpus: 1, usdPerHour: 2.03 },
      "ml.g5.8xlarge": { gpus: 1, usdPerHour: 3.06 },
      "ml.g5.16xlarge": { gpus: 1, usdPerHour: 4.87 },
    },
    // About 15 GB of weights: 900 s to copy them in, 900 s for TGI to load them.
    startupTimeoutSeconds: 1800,
  },
  "huggingface-llm-falcon-40b-instruct-bf16": {
    id: "huggingface-llm-falcon-40b-instruct-bf16",
    title: "Falcon 40B instruct (2023)",
    size: "40B",
    weights: { source: "jumpstart", artifactPrefix: "huggingface-llm/huggingface-llm-falcon-40b-instruct-bf16/artifacts/inference-prepack/v1.0.1/" },
    imageTag: TGI_1_4,
    inputLimitName: "MAX_INPUT_LENGTH",
    maxInputTokens: 1024,
    maxTotalTokens: 2048,
    contextTokens: 2048,
    payloadStyle: "inputs",
    tokenizer: "falcon",
    languages: FALCON_2023_LANGUAGES,
    licence: "Apache 2.0",
    historyDefaults: SHORT_WINDOW_HISTORY,
    // 80 GB of bf16 weights need at least the 4 x 24 GB GPUs of a 12xlarge.
    defaultInstanceType: "ml.g5.12xlarge",
    instanceTypes: {
      "ml.g5.12xlarge": { gpus: 4, usdPerHour: 7.09, environment: { MAX_BATCH_PREFILL_TOKENS: "2048", MAX_BATCH_TOTAL_TOKENS: "2048" } },
      "ml.g5.24xlarge": { gpus: 4, usdPerHour: 10.18, environment: { MAX_BATCH_PREFILL_TOKENS: "2048", MAX_BATCH_TOTAL_TOKENS: "2048" } },
      "ml.g5.48xlarge": { gpus: 8, usdPerHour: 20.36 },
      "ml.p4d.24xlarge": { gpus: 8, usdPerHour: 37.69 },
    },
    // 80 GB of weights: as long as the provider's 60-minute wait allows.
    startupTimeoutSeconds: MAX_STARTUP_SECONDS,
  },
  "tiiuae/Falcon3-1B-Instruct": falcon3("1B", {
    contextTokens: 8192,
    defaultInstanceType: "ml.g5.xlarge",
    instanceTypes: G5_SINGLE_GPU,
    startupTimeoutSeconds: 900,
  }),
  "tiiuae/Falcon3-3B-Instruct": falcon3("3B", {
    defaultInstanceType: "ml.g5.xlarge",
    instanceTypes: G5_SINGLE_GPU,
    startupTimeoutSeconds: 900,
  }),
  "tiiuae/Falcon3-7B-Instruct": falcon3("7B", {
    defaultInstanceType: "ml.g5.2xlarge",
    instanceTypes: {
      ...G5_SINGLE_GPU,
      "ml.g5.12xlarge": { gpus: 4, usdPerHour: 7.09 },
      "ml.g6e.xlarge": { gpus: 1, usdPerHour: 1.861 },
    },
    // 15 GB from the Hub, then CUDA graphs and warm-up.
    startupTimeoutSeconds: 1800,
  }),
  "tiiuae/Falcon3-10B-Instruct": falcon3("10B", {
    // 20.6 GB of bf16 weights leave no room for the KV cache on one 24 GB A10G: four of
    // them (g5.12xlarge), or one 48 GB L40S (g6e).
    defaultInstanceType: "ml.g5.12xlarge",
    instanceTypes: {
      "ml.g5.12xlarge": { gpus: 4, usdPerHour: 7.09 },
      "ml.g5.24xlarge": { gpus: 4, usdPerHour: 10.18 },
      "ml.g6e.xlarge": { gpus: 1, usdPerHour: 1.861 },
      "ml.g6e.2xlarge": { gpus: 1, usdPerHour: 2.24 },
    },
    startupTimeoutSeconds: 2400,
  }),
};


/** The default model when the stack deploys one (`modelDeploy: true`). */
export const DEFAULT_DEPLOYED_MODEL_ID = "tiiuae/Falcon3-7B-Instruct";
/** The default model behind an existing endpoint: the seed's, whose endpoint name says which model it serves. */
export const DEFAULT_EXISTING_MODEL_ID = "huggingface-llm-falcon-7b-instruct-bf16";

/**
 * ECR account of the Hugging Face TGI images per region (sagemaker-python-sdk,
 * `sagemaker-core/src/sagemaker/core/image_uri_config/huggingface-llm.json`, the same for
 * TGI 1.4.0, 2.4.0 and 3.3.6). A region missing here has no known image: the configuration
 * refuses to deploy the model there. (China and GovCloud are left out: other partitions.)
 */
export const TGI_IMAGE_ACCOUNTS: Readonly<Record<string, string>> = {
  ...Object.fromEntries(
    [
      "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1", "eu-central-1",
      "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "ap-northeast-1", "ap-northeast-2",
      "ap-south-1", "ap-southeast-1", "ap-southeast-2",
    ].map((region) => [region, "763104351884"]),
  ),
  "af-south-1": "626614931356",
  "ap-east-1": "871362719292",
  "ap-east-2": "975050140332",
  "ap-northeast-3": "364406365360",
  "ap-south-2": "772153158452",
  "ap-southeast-3": "907027046896",
  "ap-southeast-4": "457447274322",
  "ap-southeast-5": "550225433462",
  "ap-southeast-7": "590183813437",
  "ca-west-1": "204538143572",
  "eu-central-2": "380420809688",
  "eu-south-1": "692866216735",
  "eu-south-2": "503227376785",
  "il-central-1": "780543022126",
  "me-central-1": "914824155844",
  "me-south-1": "217643126080",
  "mx-central-1": "637423239942",
};

/** `<account>.dkr.ecr.<region>.amazonaws.com/huggingface-pytorch-tgi-inference:<tag>`. */
export function tgiImageUri(model: CatalogueModel, region: string): string {
  const account = TGI_IMAGE_ACCOUNTS[region];
  if (account === undefined) throw new Error(`no Hugging Face TGI image is known for region ${region}`);
  return `${account}.dkr.ecr.${region}.amazonaws.com/${TGI_IMAGE_REPOSITORY}:${model.imageTag}`;
}

/** JumpStart's public artifact bucket of a region. */
export function artifactBucket(region: string): string {
  return `jumpstart-cache-prod-${region}`;
}

/** Where the container finds weights SageMaker copied in (an S3 model data source). */
export const MOUNTED_MODEL_DIR = "/opt/ml/model";

/**
 * The container environment of a model on an instance type. `fromS3` says the weights are
 * copied in by SageMaker (JumpStart's artifacts or `modelDataS3Uri`); else TGI downloads the
 * Hub repository named by `HF_MODEL_ID`.
 */
export function containerEnvironment(model: CatalogueModel, instanceType: string, fromS3: boolean): Record<string, string> {
  const instance = model.instanceTypes[instanceType];
  if (instance === undefined) throw new Error(`${model.id} does not run on ${instanceType}`);
  const limits = {
    SM_NUM_GPUS: String(instance.gpus),
    [model.inputLimitName]: String(model.maxInputTokens),
    MAX_TOTAL_TOKENS: String(model.maxTotalTokens),
    ...instance.environment,
  };
  if (model.weights.source === "jumpstart") {
    return {
      HF_MODEL_ID: MOUNTED_MODEL_DIR,
      MODEL_CACHE_ROOT: MOUNTED_MODEL_DIR,
      ...limits,
      SAGEMAKER_MODEL_SERVER_TIMEOUT: "3600",
      ENDPOINT_SERVER_TIMEOUT: "3600",
      SAGEMAKER_MODEL_SERVER_WORKERS: "1",
      SAGEMAKER_ENV: "1",
      SAGEMAKER_CONTAINER_LOG_LEVEL: "20",
      SAGEMAKER_PROGRAM: "inference.py",
    };
  }
  return {
    HF_MODEL_ID: fromS3 ? MOUNTED_MODEL_DIR : model.weights.hubId,
    ...limits,
  };
}
