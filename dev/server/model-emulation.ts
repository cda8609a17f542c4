/**
 * `npm run dev -- --model ID`: the dev server emulates one catalogue model
 * (stacks/model/catalogue.ts) as the stack would deploy it. The handlers get the
 * environment the stack gives the chat functions for that model (payload style, token
 * limits, tokenizer calibration, generation defaults, system prompt, history limits), and
 * the fake model enforces the same limits, with a chat template for Messages API models
 * and none for the 2023 Falcons (as JumpStart's 7B artifacts).
 */
import { chatEnvironment } from "../../stacks/chat-function";
import { loadConfig } from "../../stacks/config";
import { DEFAULT_DEPLOYED_MODEL_ID, MODELS } from "../../stacks/model/catalogue";
import { StartupError } from "./processes";

export interface ModelEmulation {
  readonly modelId: string;
  /** Environment of both handlers (the endpoint name and timeouts stay the dev server's). */
  readonly lambdaEnv: Record<string, string>;
  /** Arguments of dev/fake_sagemaker.py. */
  readonly fakeArgs: string[];
}

/** The emulation of `modelId` (default: the model `modelDeploy` deploys); throws naming the catalogue. */
export function modelEmulation(modelId: string = DEFAULT_DEPLOYED_MODEL_ID): ModelEmulation {
  const model = MODELS[modelId];
  if (model === undefined) throw new StartupError(`--model ${modelId} is not in the catalogue; one of: ${Object.keys(MODELS).join(", ")}`);
  const [config] = loadConfig({ modelId }, {}).environments;
  const { endpoint: _endpoint, MODEL_READ_TIMEOUT_SECONDS: _timeout, LOG_PROMPTS: _log, ...lambdaEnv } = chatEnvironment({
    endpointName: "unused",
    generation: config.generation,
    maxTextChars: config.maxTextChars,
    maxHistoryTurns: config.maxHistoryTurns,
    maxHistoryChars: config.maxHistoryChars,
    modelReadTimeoutSeconds: 25,
    modelTokenLimits: { maxInputTokens: model.maxInputTokens, maxTotalTokens: model.maxTotalTokens },
    payloadStyle: model.payloadStyle,
    tokenizer: model.tokenizer,
    systemPrompt: config.systemPrompt,
  });
  return {
    modelId,
    lambdaEnv,
    fakeArgs: [
      "--max-input-tokens", String(model.maxInputTokens),
      "--max-total-tokens", String(model.maxTotalTokens),
      "--chat-template", model.payloadStyle === "messages" ? "falcon3" : "none",
      "--model-id", model.id,
    ],
  };
}
