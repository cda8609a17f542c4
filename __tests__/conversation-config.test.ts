import { loadConfig } from "../stacks/config";
import { problemOf } from "./helpers";

const env0 = (context: unknown = {}, env: NodeJS.ProcessEnv = {}) => loadConfig(context, env).environments[0];

describe("saved-conversation settings", () => {
  it("keeps conversations on the server by default when people sign in, forever", () => {
    expect(env0()).toMatchObject({ auth: "cognito", conversations: true, conversationRetentionDays: 0 });
  });

  it("keeps none on the server on the open site (the page keeps them in the browser)", () => {
    expect(env0({ auth: "none" })).toMatchObject({ conversations: false, conversationRetentionDays: 0 });
  });

  it("reads both settings from cdktf.json", () => {
    expect(env0({ conversationRetentionDays: 90 })).toMatchObject({ conversations: true, conversationRetentionDays: 90 });
    expect(env0({ environments: { dev: { conversations: false } } }).conversations).toBe(false);
  });

  it("reads both settings from CHATBOT_* variables", () => {
    expect(env0({}, { CHATBOT_CONVERSATIONS: "true", CHATBOT_CONVERSATION_RETENTION_DAYS: "30" })).toMatchObject({ conversations: true, conversationRetentionDays: 30 });
    expect(env0({}, { CHATBOT_CONVERSATIONS: "false" }).conversations).toBe(false);
  });

  it("refuses conversations on the open site, naming the setting, its value and why", () => {
    expect(problemOf({ auth: "none", conversations: true })).toMatch(
      /conversations = true \(from cdktf.json context chatbot.conversations\) is invalid; allowed: false when auth is "none": .*nobody to keep them for/,
    );
    expect(problemOf({}, { CHATBOT_AUTH: "none", CHATBOT_CONVERSATIONS: "true" })).toMatch(/conversations = true \(from environment variable CHATBOT_CONVERSATIONS\) is invalid/);
  });

  it("refuses a retention while conversations are off, naming both settings", () => {
    expect(problemOf({ conversations: false, conversationRetentionDays: 30 })).toMatch(
      /conversationRetentionDays = 30 \(from cdktf.json context chatbot.conversationRetentionDays\) is invalid; allowed: 0 while conversations is false/,
    );
    expect(problemOf({ auth: "none", conversationRetentionDays: 7 })).toMatch(/conversationRetentionDays = 7 .*0 while conversations is false/);
  });

  it("refuses a retention outside 0 to 3650 whole days", () => {
    expect(problemOf({ conversationRetentionDays: -1 })).toMatch(/conversationRetentionDays = -1 .*a whole number from 0 to 3650/);
    expect(problemOf({ conversationRetentionDays: 3651 })).toMatch(/conversationRetentionDays = 3651 .*a whole number from 0 to 3650/);
    expect(problemOf({}, { CHATBOT_CONVERSATION_RETENTION_DAYS: "1.5" })).toMatch(/conversationRetentionDays = 1.5 \(from environment variable CHATBOT_CONVERSATION_RETENTION_DAYS\)/);
    expect(problemOf({}, { CHATBOT_CONVERSATION_RETENTION_DAYS: "forever" })).toMatch(/CHATBOT_CONVERSATION_RETENTION_DAYS="forever" is not a number/);
  });

  it("refuses a value of the wrong kind", () => {
    expect(problemOf({ conversations: "yes" })).toMatch(/conversations = "yes" .*allowed: true or false/);
    expect(problemOf({}, { CHATBOT_CONVERSATIONS: "1" })).toMatch(/CHATBOT_CONVERSATIONS="1" is not a boolean/);
  });

  it("knows both variables, and names the closest one for a typo", () => {
    expect(() => loadConfig({}, { CHATBOT_CONVERSATIONS: "true", CHATBOT_CONVERSATION_RETENTION_DAYS: "0" })).not.toThrow();
    expect(problemOf({}, { CHATBOT_CONVERSATION: "true" })).toMatch(/unknown environment variable CHATBOT_CONVERSATION; did you mean CHATBOT_CONVERSATIONS \(conversations\)\?/);
    expect(problemOf({}, { CHATBOT_CONVERSATIONS_RETENTION_DAYS: "3" })).toMatch(/did you mean CHATBOT_CONVERSATION_RETENTION_DAYS \(conversationRetentionDays\)\?/);
  });

  it("sizes the site-wide daily backstop for the conversations requests too, unless a quota is set", () => {
    expect(env0().dailyRequestQuota).toBe(150_000);
    expect(env0({ conversations: false }).dailyRequestQuota).toBe(100_000);
    expect(env0({ dailyRequestQuota: 5000 }).dailyRequestQuota).toBe(5000);
  });
});
