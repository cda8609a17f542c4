/**
 * What SageMaker JumpStart deploys for the Falcon models this project supports, written
 * out so the stack can deploy the same thing without the SageMaker Python SDK.
 *
 * Sources (see ../shared/DESIGN.md, "The model endpoint"):
 * - Falcon 7B instruct: JumpStart spec 4.6.16 of `huggingface-llm-falcon-7b-instruct-bf16`
 *   as generated into awslabs/generative-ai-cdk-constructs' jumpstart-models.json (image,
 *   environment, artifact prefix, instance types).
 * - Falcon 40B instruct: the same spec family and image; JumpStart samples run it on
 *   ml.g5.12xlarge, ml.g5.48xlarge or ml.p4d.24xlarge with one TGI shard per GPU and the
 *   same 1024/2048 token limits (generative-ai-cdk-constructs' Falcon construct). Check its
 *   artifact prefix with `sagemaker.jumpstart` before a first production deploy.
 * - Prices: SageMaker real-time inference, on demand, us-east-1, USD per instance-hour;
 *   for the README's cost table only. Check https://aws.amazon.com/sagemaker/pricing/.
 */

/** An instance type a model runs on. */
export interface ModelInstanceType {
  /** GPUs on the instance; TGI shards the model over all of them (`SM_NUM_GPUS`). */
  readonly gpus: number;
  /** Approximate on-demand price, USD per hour (us-east-1). */
  readonly usdPerHour: number;
}

/** One JumpStart model, as the stack deploys it. */
export interface JumpStartModel {
  readonly id: string;
  /** Short name for descriptions. */
  readonly title: string;
  /** Prefix of the uncompressed, prepacked artifacts in `jumpstart-cache-prod-<region>`, ending in `/`. */
  readonly artifactPrefix: string;
  /** Tag of the Hugging Face TGI image in the `huggingface-pytorch-tgi-inference` repository. */
  readonly imageTag: string;
  /** TGI `MAX_INPUT_LENGTH`: most prompt tokens. */
  readonly maxInputTokens: number;
  /** TGI `MAX_TOTAL_TOKENS`: most prompt plus generated tokens. */
  readonly maxTotalTokens: number;
  /** Instance types JumpStart supports for it; the first is the default. */
  readonly instanceTypes: Readonly<Record<string, ModelInstanceType>>;
  readonly defaultInstanceType: string;
  /**
   * Seconds SageMaker waits for the artifacts to download and for the container's first
   * healthy ping. Tens of GB of weights load in minutes, not the 60 s SageMaker assumes
   * for small models.
   */
  readonly startupTimeoutSeconds: number;
}

export const TGI_IMAGE_REPOSITORY = "huggingface-pytorch-tgi-inference";
const TGI_IMAGE_TAG = "2.4.0-tgi2.4.0-gpu-py311-cu124-ubuntu22.04";

export const JUMPSTART_MODELS: Readonly<Record<string, JumpStartModel>> = {
  "huggingface-llm-falcon-7b-instruct-bf16": {
    id: "huggingface-llm-falcon-7b-instruct-bf16",
    title: "Falcon 7B instruct",
    artifactPrefix: "huggingface-llm/huggingface-llm-falcon-7b-instruct-bf16/artifacts/inference-prepack/v2.0.0/",
    imageTag: TGI_IMAGE_TAG,
    maxInputTokens: 1024,
    maxTotalTokens: 2048,
    defaultInstanceType: "ml.g5.2xlarge",
    instanceTypes: {
      "ml.g5.2xlarge": { gpus: 1, usdPerHour: 1.515 },
      "ml.g5.4xlarge": { gpus: 1, usdPerHour: 2.03 },
      "ml.g5.8xlarge": { gpus: 1, usdPerHour: 3.06 },
      "ml.g5.16xlarge": { gpus: 1, usdPerHour: 4.87 },
    },
    // About 15 GB of weights.
    startupTimeoutSeconds: 900,
  },
  "huggingface-llm-falcon-40b-instruct-bf16": {
    id: "huggingface-llm-falcon-40b-instruct-bf16",
    title: "Falcon 40B instruct",
    artifactPrefix: "huggingface-llm/huggingface-llm-falcon-40b-instruct-bf16/artifacts/inference-prepack/v2.0.0/",
    imageTag: TGI_IMAGE_TAG,
    maxInputTokens: 1024,
    maxTotalTokens: 2048,
    // 80 GB of bf16 weights need at least the 4 x 24 GB GPUs of a 12xlarge.
    defaultInstanceType: "ml.g5.12xlarge",
    instanceTypes: {
      "ml.g5.12xlarge": { gpus: 4, usdPerHour: 7.09 },
      "ml.g5.48xlarge": { gpus: 8, usdPerHour: 20.36 },
      "ml.p4d.24xlarge": { gpus: 8, usdPerHour: 37.69 },
    },
    // SageMaker's maximum for both timeouts.
    startupTimeoutSeconds: 3600,
  },
};

export const DEFAULT_MODEL_ID = "huggingface-llm-falcon-7b-instruct-bf16";

/**
 * ECR account of the Hugging Face TGI images per region (sagemaker-python-sdk,
 * `image_uri_config/huggingface-llm.json`). A region missing here has no known image:
 * the configuration refuses to deploy the model there.
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
  "ap-northeast-3": "364406365360",
  "ap-south-2": "772153158452",
  "ap-southeast-3": "907027046896",
  "ap-southeast-4": "457447274322",
  "ca-west-1": "204538143572",
  "eu-central-2": "380420809688",
  "eu-south-1": "692866216735",
  "eu-south-2": "503227376785",
  "il-central-1": "780543022126",
  "me-central-1": "914824155844",
  "me-south-1": "217643126080",
};

/** `<account>.dkr.ecr.<region>.amazonaws.com/huggingface-pytorch-tgi-inference:<tag>`. */
export function tgiImageUri(model: JumpStartModel, region: string): string {
  const account = TGI_IMAGE_ACCOUNTS[region];
  if (account === undefined) throw new Error(`no Hugging Face TGI image is known for region ${region}`);
  return `${account}.dkr.ecr.${region}.amazonaws.com/${TGI_IMAGE_REPOSITORY}:${model.imageTag}`;
}

/** JumpStart's public artifact bucket of a region. */
export function artifactBucket(region: string): string {
  return `jumpstart-cache-prod-${region}`;
}

/** The container environment JumpStart sets for these models on a given instance type. */
export function containerEnvironment(model: JumpStartModel, instanceType: string): Record<string, string> {
  const instance = model.instanceTypes[instanceType];
  if (instance === undefined) throw new Error(`${model.id} does not run on ${instanceType}`);
  return {
    HF_MODEL_ID: "/opt/ml/model",
    MODEL_CACHE_ROOT: "/opt/ml/model",
    SM_NUM_GPUS: String(instance.gpus),
    MAX_INPUT_LENGTH: String(model.maxInputTokens),
    MAX_TOTAL_TOKENS: String(model.maxTotalTokens),
    SAGEMAKER_MODEL_SERVER_TIMEOUT: "3600",
    ENDPOINT_SERVER_TIMEOUT: "3600",
    SAGEMAKER_MODEL_SERVER_WORKERS: "1",
    SAGEMAKER_ENV: "1",
    SAGEMAKER_CONTAINER_LOG_LEVEL: "20",
    SAGEMAKER_PROGRAM: "inference.py",
  };
}
