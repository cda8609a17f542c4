import * as fs from "fs";
import * as path from "path";
import { App } from "cdktf";
import { ChatbotStack, stackName } from "./stacks/chatbot-stack";
import { ConfigError, loadConfig } from "./stacks/config";

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

for (const environment of config.environments) {
  new ChatbotStack(app, stackName(environment.name), { config: environment });
}

app.synth();
