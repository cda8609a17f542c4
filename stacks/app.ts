import * as fs from "fs";
import * as path from "path";
import type { App } from "cdktf";
import { AccountStack } from "./account-stack";
import { ChatbotStack, stackName } from "./chatbot-stack";
import { accountOf, loadConfig } from "./config";

/**
 * Adds this project's stacks to `app`: one account stack per account and region (what the
 * environments there share), then one chatbot stack per environment, depending on its
 * account's. The configuration is `context.chatbot` (cdktf.json's when the app runs without
 * the CLI) with `env`'s CHATBOT_* settings on top. Throws ConfigError, naming the problem,
 * when the configuration is invalid.
 */
export function addStacks(app: App, env: NodeJS.ProcessEnv): void {
  // The cdktf CLI passes cdktf.json's context to the app; `npm run synth:app` (no CLI) does not.
  const context =
    app.node.tryGetContext("chatbot") ??
    JSON.parse(fs.readFileSync(path.join(__dirname, "..", "cdktf.json"), "utf8")).context?.chatbot;
  const config = loadConfig(context, env);
  const accountStacks = new Map(
    config.accounts.map((account) => [account.stackName, new AccountStack(app, account.stackName, { config: account })]),
  );
  for (const environment of config.environments) {
    const stack = new ChatbotStack(app, stackName(environment.name), { config: environment });
    const account = accountOf(config.accounts, environment.name);
    if (account) stack.addDependency(accountStacks.get(account.stackName)!);
  }
}
