/** The settings of the model endpoint the stack may deploy (`modelDeploy` and friends). */
import { JUMPSTART_MODELS, TGI_IMAGE_ACCOUNTS } from "../model/jumpstart-catalogue";
import type { Checker } from "./checker";
import { DEFAULTS, EnvironmentConfig, GenerationParameters } from "./environment";

/** Name of the endpoint the stack creates with `modelDeploy`: one per environment, well within SageMaker's 63 characters. */
export function deployedEndpointName(environment: string): string {
  return `falcon-chatbot-${environment}`;
}

type ModelSettings = Pick<
  EnvironmentConfig,
  "endpointName" | "modelDeploy" | "modelId" | "modelInstanceType" | "modelMinInstances" | "modelMaxInstances"
>;

/** Largest autoscaling ceiling accepted: a guard against a typo that would order dozens of GPU instances. */
export const MAX_MODEL_INSTANCES = 20;

/**
 * Reads the model settings of one environment. `endpointName` comes out as the endpoint
 * the functions call: the existing one, or the one the stack creates.
 */
export function resolveModelSettings(
  check: Checker,
  environment: string,
  region: string,
  endpointName: string,
  generation: GenerationParameters,
): ModelSettings {
  const modelDeploy = check.bool("modelDeploy", DEFAULTS.modelDeploy);
  const modelId = check.oneOf("modelId", DEFAULTS.modelId, Object.keys(JUMPSTART_MODELS), "a supported JumpStart model");
  const model = JUMPSTART_MODELS[modelId];
  const instanceTypes = Object.keys(model.instanceTypes);
  const modelInstanceType = check.oneOf("modelInstanceType", model.defaultInstanceType, instanceTypes, `an instance type ${modelId} runs on`);
  const modelMinInstances = check.int("modelMinInstances", DEFAULTS.modelMinInstances, 1, MAX_MODEL_INSTANCES);
  const modelMaxInstances = check.int("modelMaxInstances", DEFAULTS.modelMaxInstances, 1, MAX_MODEL_INSTANCES);
  if (modelMaxInstances < modelMinInstances) {
    check.fail("modelMaxInstances", modelMaxInstances, `at least modelMinInstances (${modelMinInstances})`);
  }
  // TGI refuses any request whose max_new_tokens leaves no room for a prompt.
  if (generation.maxNewTokens >= model.maxTotalTokens) {
    check.failGeneration("maxNewTokens", generation.maxNewTokens, `less than ${model.maxTotalTokens}, the total token limit of ${modelId}`);
  }
  if (modelDeploy && TGI_IMAGE_ACCOUNTS[region] === undefined) {
    check.fail("region", region, `with modelDeploy, a region with a Hugging Face TGI image: ${Object.keys(TGI_IMAGE_ACCOUNTS).sort().join(", ")}`);
  }
  if (modelDeploy && check.isSet("endpointName")) {
    check.fail("endpointName", endpointName, `unset when modelDeploy is true: the stack then creates and names its own endpoint, ${deployedEndpointName(environment)}`);
  }
  return {
    endpointName: modelDeploy ? deployedEndpointName(environment) : endpointName,
    modelDeploy,
    modelId,
    modelInstanceType,
    modelMinInstances,
    modelMaxInstances,
  };
}
