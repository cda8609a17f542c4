import { App } from "cdktf";
import { addStacks } from "./stacks/app";
import { ConfigError } from "./stacks/config";

const app = new App();
try {
  addStacks(app, process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
app.synth();
