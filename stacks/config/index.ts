/**
 * The chatbot's configuration: what can be set (environment.ts), where it is read from
 * and how it is checked (load.ts), per concern (model-settings.ts, ...).
 */
export * from "./allowed";
export { ConfigError } from "./checker";
export * from "./environment";
export { loadConfig } from "./load";
export { deployedEndpointName, MAX_MODEL_INSTANCES } from "./model-settings";
export { originReadTimeoutSeconds } from "./origin-timeout-settings";
export { servesIpv6 } from "./edge-settings";
export { accountOf, accountStackName } from "./account-settings";
export type { ChatbotContext } from "./settings";
export { ENVIRONMENTS_ENV, SETTINGS } from "./settings";
export * from "./signin-settings";
export * from "./conversation-settings";
