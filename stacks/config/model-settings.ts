/** The settings of the model: which one, whether the stack deploys it, how the functions prompt it. */
import { CatalogueModel, DEFAULT_DEPLOYED_MODEL_ID, DEFAULT_EXISTING_MODEL_ID, MODELS, TGI_IMAGE_ACCOUNTS } from "../model/catalogue";
import { parseS3Prefix } from "../model/s3-prefix";
import type { Checker } from "./checker";
import { DEFAULTS, DEFAULT_GENERATION, DEFAULT_MESSAGES_GENERATION, EnvironmentConfig, GenerationParameters } from "./environment";

/** Name of the endpoint the stack creates with `modelDeploy`: one per environment, well within SageMaker's 63 characters. */
export function deployedEndpointName(environment: string): string {
  return `falcon-chatbot-${environment}`;
}

type ModelSettings = Pick<
  EnvironmentConfig,
  | "endpointName" | "modelDeploy" | "modelId" | "modelInstanceType" | "modelMinInstances" | "modelMaxInstances"
  | "modelDataS3Uri" | "generation" | "systemPrompt" | "maxHistoryTurns" | "maxHistoryChars"
>;

/** Largest autoscaling ceiling accepted: a guard against a typo that would order dozens of GPU instances. */
export const MAX_MODEL_INSTANCES = 20;

/** Longest system prompt, in characters and in UTF-8 bytes (Lambda allows 4 KB for all of a function's environment variables). */
export const MAX_SYSTEM_PROMPT_CHARS = 1000;
export const MAX_SYSTEM_PROMPT_BYTES = 1500;

/** The generation defaults of a model's payload style. */
export function generationDefaults(model: CatalogueModel): GenerationParameters {
  return model.payloadStyle === "messages" ? DEFAULT_MESSAGES_GENERATION : DEFAULT_GENERATION;
}

/**
 * Reads the model settings of one environment. `endpointName` comes out as the endpoint
 * the functions call: the existing one, or the one the stack creates.
 */
export function resolveModelSettings(check: Checker, environment: string, region: string, endpointName: string): ModelSettings {
  const modelDeploy = check.bool("modelDeploy", DEFAULTS.modelDeploy);
  // An existing endpoint keeps the seed's model as its default: its name says it serves that one.
  const defaultModel = modelDeploy ? DEFAULT_DEPLOYED_MODEL_ID : DEFAULT_EXISTING_MODEL_ID;
  const modelId = check.oneOf("modelId", defaultModel, Object.keys(MODELS), "a model of the catalogue (stacks/model/catalogue.ts)");
  const model = MODELS[modelId];
  const instanceTypes = Object.keys(model.instanceTypes);
  const modelInstanceType = check.oneOf("modelInstanceType", model.defaultInstanceType, instanceTypes, `an instance type ${modelId} runs on`);
  const modelMinInstances = check.int("modelMinInstances", DEFAULTS.modelMinInstances, 1, MAX_MODEL_INSTANCES);
  const modelMaxInstances = check.int("modelMaxInstances", DEFAULTS.modelMaxInstances, 1, MAX_MODEL_INSTANCES);
  if (modelMaxInstances < modelMinInstances) {
    check.fail("modelMaxInstances", modelMaxInstances, `at least modelMinInstances (${modelMinInstances})`);
  }
  const modelDataS3Uri = check.optional("modelDataS3Uri", /^s3:\/\//, "an S3 prefix s3://<bucket>/<prefix>/");
  if (modelDataS3Uri !== undefined) {
    if (parseS3Prefix(modelDataS3Uri) === undefined) {
      check.fail("modelDataS3Uri", modelDataS3Uri, "an S3 prefix s3://<bucket>/<prefix>/ (a bucket name, then a prefix ending in /)");
    } else if (!modelDeploy) {
      check.fail("modelDataS3Uri", modelDataS3Uri, "unset unless modelDeploy is true (it says where the deployed model's weights are)");
    } else if (model.weights.source !== "hub") {
      check.fail("modelDataS3Uri", modelDataS3Uri, `unset for ${modelId}: its weights are JumpStart's artifacts`);
    }
  }
  if (modelDeploy && TGI_IMAGE_ACCOUNTS[region] === undefined) {
    check.fail("region", region, `with modelDeploy, a region with a Hugging Face TGI image: ${Object.keys(TGI_IMAGE_ACCOUNTS).sort().join(", ")}`);
  }
  if (modelDeploy && check.isSet("endpointName")) {
    check.fail("endpointName", endpointName, `unset when modelDeploy is true: the stack then creates and names its own endpoint, ${deployedEndpointName(environment)}`);
  }
  const generation = resolveGeneration(check, model);
  return {
    endpointName: modelDeploy ? deployedEndpointName(environment) : endpointName,
    modelDeploy,
    modelId,
    modelInstanceType,
    modelMinInstances,
    modelMaxInstances,
    modelDataS3Uri,
    generation,
    systemPrompt: resolveSystemPrompt(check, model, generation),
    maxHistoryTurns: check.int("maxHistoryTurns", model.historyDefaults.maxHistoryTurns, 0, 100),
    maxHistoryChars: check.int("maxHistoryChars", model.historyDefaults.maxHistoryChars, 0, 200_000),
  };
}

/** Generation parameters over the payload style's defaults; a set one the style cannot send is refused, named. */
function resolveGeneration(check: Checker, model: CatalogueModel): GenerationParameters {
  const generation = check.generation(generationDefaults(model));
  if (model.payloadStyle === "messages" && check.generationSet().includes("topK")) {
    // TGI's chat request has no top_k and ignores unknown fields: it would silently do nothing.
    check.failGeneration("topK", generation.topK, `unset for ${model.id}: TGI's Messages API has no top_k (use topP)`);
  }
  if (model.payloadStyle === "messages" && generation.repetitionPenalty !== undefined && !(generation.repetitionPenalty <= 4)) {
    // Sent as presence_penalty = repetitionPenalty - 2, which TGI accepts from -2 to 2.
    check.failGeneration("repetitionPenalty", generation.repetitionPenalty, `at most 4 for ${model.id} (sent as TGI's presence_penalty, repetitionPenalty - 2)`);
  }
  // TGI refuses any request whose max_new_tokens leaves no room for a prompt.
  if (generation.maxNewTokens >= model.maxTotalTokens) {
    check.failGeneration("maxNewTokens", generation.maxNewTokens, `less than ${model.maxTotalTokens}, the total token limit of ${model.id}`);
  }
  return generation;
}

/**
 * The system prompt: bounded in characters and bytes, without control characters other than
 * line breaks and tabs, and small enough to leave at least half the model's input budget for
 * the conversation (UTF-8 bytes bound the tokens of a byte-level BPE tokenizer from above).
 */
function resolveSystemPrompt(check: Checker, model: CatalogueModel, generation: GenerationParameters): string {
  const what = `text of at most ${MAX_SYSTEM_PROMPT_CHARS} characters (${MAX_SYSTEM_PROMPT_BYTES} UTF-8 bytes), no control characters other than line breaks and tabs; "" for none`;
  const prompt = check.matches("systemPrompt", DEFAULTS.systemPrompt, /^[\s\S]*$/, what);
  const bytes = Buffer.byteLength(prompt, "utf8");
  // eslint-disable-next-line no-control-regex
  if (prompt.length > MAX_SYSTEM_PROMPT_CHARS || bytes > MAX_SYSTEM_PROMPT_BYTES || /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(prompt)) {
    check.fail("systemPrompt", prompt, what);
    return DEFAULTS.systemPrompt;
  }
  const budget = Math.min(model.maxInputTokens, model.maxTotalTokens - generation.maxNewTokens);
  if (bytes > budget / 2) {
    check.fail("systemPrompt", prompt, `for ${model.id}, at most ${Math.floor(budget / 2)} UTF-8 bytes: half its input budget of ${budget} tokens`);
    return DEFAULTS.systemPrompt;
  }
  return prompt.trim();
}
