import { ConfigError, loadConfig } from "../stacks/config";
import { closestName } from "../stacks/config/env-names";

/** The error message loadConfig throws for this configuration. */
function problemOf(context: unknown, env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig(context, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("configuration was accepted");
}

describe("CHATBOT_* environment variables", () => {
  it("refuses an unknown CHATBOT_* variable, naming it and the closest known setting", () => {
    expect(problemOf({}, { CHATBOT_MODEL_DEPLY: "true" })).toMatch(/unknown environment variable CHATBOT_MODEL_DEPLY; did you mean CHATBOT_MODEL_DEPLOY \(modelDeploy\)\?/);
    expect(problemOf({}, { CHATBOT_ENVIROMENTS: "prod" })).toMatch(/did you mean CHATBOT_ENVIRONMENTS \(the environments to build\)\?/);
  });

  it("accepts every variable a setting reads, and ignores variables of other programs", () => {
    expect(() => loadConfig({}, { CHATBOT_ENVIRONMENTS: "dev", CHATBOT_MODEL_DEPLOY: "true", CHATBOT_REGION: "us-east-1", CHECKPOINT_DISABLE: "1", CHAT: "x" })).not.toThrow();
  });

  it("picks the candidate with the fewest edits", () => {
    expect(closestName("CHATBOT_WAF_RATE_LIMT", ["CHATBOT_WAF", "CHATBOT_WAF_RATE_LIMIT", "CHATBOT_STAGE"])).toBe("CHATBOT_WAF_RATE_LIMIT");
  });
});
