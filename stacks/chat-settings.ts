import type { ChatSettings } from "./chat-function";
import type { EnvironmentConfig } from "./config";
import type { CatalogueModel } from "./model/catalogue";

/**
 * Read timeout for the Lambda's SageMaker call: a few seconds inside the shorter of the
 * API Gateway integration timeout and the Lambda timeout, so the function can still
 * answer `[504]` before API Gateway or Lambda gives up on it.
 */
export function modelReadTimeoutSeconds(config: Pick<EnvironmentConfig, "integrationTimeoutMs" | "lambdaTimeoutSeconds">): number {
  const budgetMs = Math.min(config.integrationTimeoutMs, config.lambdaTimeoutSeconds * 1000);
  return Math.max(1, Math.floor(budgetMs / 1000) - 4);
}

/** What every chat function is told about the model and the requests it accepts, from one environment's configuration. */
export function chatSettings(c: EnvironmentConfig, model: CatalogueModel): ChatSettings {
  return {
    endpointName: c.endpointName,
    generation: c.generation,
    maxTextChars: c.maxTextChars,
    maxHistoryTurns: c.maxHistoryTurns,
    maxHistoryChars: c.maxHistoryChars,
    modelReadTimeoutSeconds: modelReadTimeoutSeconds(c),
    modelTokenLimits: { maxInputTokens: model.maxInputTokens, maxTotalTokens: model.maxTotalTokens },
    payloadStyle: model.payloadStyle,
    tokenizer: model.tokenizer,
    systemPrompt: c.systemPrompt,
    logPrompts: c.logPrompts,
  };
}
