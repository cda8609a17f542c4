import * as fs from "fs";
import * as path from "path";
import { App } from "cdktf";
import { AccountStack } from "./stacks/account-stack";
import { ChatbotStack, stackName } from "./stacks/chatbot-stack";
import { ConfigError, accountOf, loadConfig } from "./stacks/config";

const app = new App();

// The cdktf CLI passes cdktf.json's context to the app; `npm run synth:app` (no CLI) does not.
const context =
  app.node.tryGetContext("chatbot") ??
  JSON.parse(fs.readFileSync(path.join(__dirname, "cdktf.json"), "utf8")).context?.chatbot;

let config;
try {
  config = loadConfig(context, process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

// One account stack per account and region, owning what the environments there share.
const accountStacks = new Map(config.accounts.map((account) => [account.stackName, new AccountStack(app, account.stackName, { config: account })]));
for (const environment of config.environments) {
  const stack = new ChatbotStack(app, stackName(environment.name), { config: environment });
  const account = accountOf(config.accounts, environment.name);
  if (account) stack.addDependency(accountStacks.get(account.stackName)!);
}

app.synth();
