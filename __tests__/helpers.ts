import "cdktf/lib/testing/adapters/jest";
import * as path from "path";
import { Testing } from "cdktf";
import type { ChatSettings } from "../stacks/chat-function";
import { ChatbotStack, stackName } from "../stacks/chatbot-stack";
import { ChatbotContext, ConfigError, DEFAULT_GENERATION, EnvironmentConfig, loadConfig } from "../stacks/config";

export const PROJECT_ROOT = path.resolve(__dirname, "..");

/** Small, stable stand-ins for lambda-chat/ and site/, so these tests do not change when they do. */
export const FIXTURES = {
  lambdaDir: path.join(__dirname, "fixtures", "lambda-chat"),
  siteDir: path.join(__dirname, "fixtures", "site"),
};

/** What construct tests tell a chat function about the model (the defaults, endpoint "falcon"). */
export const CHAT_SETTINGS: ChatSettings = {
  endpointName: "falcon",
  generation: DEFAULT_GENERATION,
  maxTextChars: 4000,
  maxHistoryTurns: 10,
  maxHistoryChars: 8000,
  modelReadTimeoutSeconds: 25,
  modelTokenLimits: { maxInputTokens: 1024, maxTotalTokens: 2048 },
  payloadStyle: "inputs",
  tokenizer: "falcon",
  systemPrompt: "",
};

/** Terraform JSON of one synthesized stack. */
export interface StackJson {
  terraform: Record<string, any>;
  provider?: Record<string, any[]>;
  resource: Record<string, Record<string, any>>;
  data?: Record<string, Record<string, any>>;
  output?: Record<string, { value: string; description?: string }>;
}

/** One environment's configuration, as loadConfig builds it from context and env. */
export function environmentConfig(context: ChatbotContext = {}, env: NodeJS.ProcessEnv = {}): EnvironmentConfig {
  return loadConfig(context, env).environments[0];
}

/** Synthesizes the chatbot stack of one environment (fixtures as sources unless told otherwise). */
export function synthStack(config: EnvironmentConfig = environmentConfig(), sources = FIXTURES): StackJson {
  const app = Testing.app();
  const stack = new ChatbotStack(app, stackName(config.name), { config, ...sources });
  return JSON.parse(Testing.synth(stack));
}

/** All resources of one Terraform type, by logical id. */
export function resourcesOf(json: StackJson, type: string): any[] {
  return Object.values(json.resource[type] ?? {});
}

/** The single resource of a type; fails when there is not exactly one. */
export function only(json: StackJson, type: string): any {
  const all = resourcesOf(json, type);
  if (all.length !== 1) throw new Error(`expected exactly one ${type}, found ${all.length}`);
  return all[0];
}

/** The resource of a type created with the given construct id (logical ids embed it). */
export function byId(json: StackJson, type: string, constructId: string): any {
  const pattern = new RegExp(`(^|_)${constructId}(_[0-9A-F]{8})?$`);
  const found = Object.entries(json.resource[type] ?? {}).filter(([logicalId]) => pattern.test(logicalId));
  if (found.length !== 1) throw new Error(`expected one ${type} with construct id ${constructId}, found ${found.length}`);
  return found[0][1];
}

/** `${type}.${logicalId}` of every resource of a type, as depends_on lists them. */
export function addressesOf(json: StackJson, type: string): string[] {
  return Object.keys(json.resource[type] ?? {}).map((id) => `${type}.${id}`);
}

/** Parses an IAM policy document string (Terraform references stay as "${...}" strings). */
export function policy(doc: string): { Version: string; Statement: any[] } {
  return JSON.parse(doc);
}

/**
 * Replaces values that change with file contents (asset hashes, content hashes) so a
 * snapshot shows structure and settings, not the bytes of the page or the handler.
 */
export function maskVolatile(json: unknown): unknown {
  return JSON.parse(
    JSON.stringify(json)
      .replace(/(assets\/[A-Za-z0-9_-]+\/)[0-9A-F]{16,32}/g, "$1<hash>")
      .replace(/"source_hash":"[0-9a-f]{32}"/g, '"source_hash":"<md5>"'),
  );
}

/** The error message loadConfig throws for this configuration (fails the test when it is accepted). */
export function problemOf(context: unknown, env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig(context, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("configuration was accepted");
}
