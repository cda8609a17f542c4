/**
 * Synthesizes the app several times in one Node.js process, each with its own CHATBOT_*
 * settings and output directory: what `node main.ts` does once per process, without
 * paying Node's, tsx's and the provider bindings' start-up for every variant.
 * Used by scripts/tfharness.py (synth_many) for terraform validate's variants.
 *
 *   node --require tsx/cjs scripts/synth-many.ts '[{"outdir": "...", "env": {"CHATBOT_AUTH": "none"}}, ...]'
 *
 * Each variant's env is laid over this process's environment, as for a separate process.
 * An invalid configuration prints its ConfigError and exits 1.
 */
import { App } from "cdktf";
import { addStacks } from "../stacks/app";
import { ConfigError } from "../stacks/config";

interface Variant {
  readonly outdir: string;
  readonly env: Record<string, string>;
}

const variants: Variant[] = JSON.parse(process.argv[2] ?? "[]");
for (const variant of variants) {
  const app = new App({ outdir: variant.outdir });
  try {
    addStacks(app, { ...process.env, ...variant.env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${variant.outdir}: ${error.message}`);
    process.exit(1);
  }
  app.synth();
}
