/**
 * Draws the layout of the dev stack's CloudWatch dashboard into a PNG (default
 * docs/dashboard.png), so a reviewer sees the dashboard before deploying:
 *
 *   npm run docs:dashboard -- [--out <png>] [--html <file>] [--from <cdk.tf.json>]
 *
 * Synthesizes the app into a temporary directory (dev only, the model deployed, so every
 * widget exists), unless --from names an already synthesized stack's cdk.tf.json; renders
 * the grid as HTML (scripts/dashboard-layout.ts) and screenshots it in headless Chromium
 * (playwright-core; Debian's chromium-headless-shell, or CHROMIUM_PATH: scripts/chromium.ts).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { LayoutError, findDashboard, parseDashboard, renderHtml } from "./dashboard-layout";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "./chromium";

export const ROOT = path.resolve(__dirname, "..");

/** Synthesizes the app (dev, model deployed) into outdir; returns the dev stack's cdk.tf.json. */
export function synthesize(outdir: string): string {
  const result = spawnSync(process.execPath, ["--require", "tsx/cjs", "main.ts"], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, CDKTF_OUTDIR: outdir, CHATBOT_ENVIRONMENTS: "dev", CHATBOT_MODEL_DEPLOY: "true", CHECKPOINT_DISABLE: "1" },
  });
  if (result.status !== 0) {
    const output = `${result.stderr ?? ""}${result.stdout ?? ""}`.trim();
    throw new LayoutError(`synthesizing the app failed (${result.error?.message ?? `exit code ${result.status}`})${output ? `:\n${output}` : ""}`);
  }
  return path.join(outdir, "stacks", "chatbot-dev", "cdk.tf.json");
}

/** The page for a synthesized stack's cdk.tf.json. */
export function dashboardHtml(tfJsonPath: string): string {
  let stack: unknown;
  try {
    stack = JSON.parse(fs.readFileSync(tfJsonPath, "utf8"));
  } catch (error) {
    throw new LayoutError(`cannot read ${tfJsonPath}: ${(error as Error).message}`);
  }
  const { name, body } = findDashboard(stack);
  return renderHtml(parseDashboard(name, body));
}

/** Screenshots the page (full page) into png; returns the titles of widgets whose text does not fit their box. */
export async function screenshot(html: string, png: string): Promise<string[]> {
  const executablePath = CHROMIUM_PATH;
  if (!fs.existsSync(executablePath)) {
    throw new LayoutError(`Chromium not found at ${executablePath} (install Debian's chromium-headless-shell, or set CHROMIUM_PATH)`);
  }
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS }).catch((error: Error) => {
    throw new LayoutError(`Chromium at ${executablePath} did not start: ${error.message.split("\n")[0]}`);
  });
  try {
    const page = await browser.newPage({ viewport: { width: 800, height: 600 }, deviceScaleFactor: 1 });
    await page.emulateMedia({ colorScheme: "light" });
    await page.setContent(html, { waitUntil: "load" });
    const size = await page.evaluate("({ width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight })");
    await page.setViewportSize(size as { width: number; height: number });
    fs.mkdirSync(path.dirname(png), { recursive: true });
    await page.screenshot({ path: png, fullPage: true });
    return (await page.evaluate(
      "[...document.querySelectorAll('.box')].filter((b) => b.scrollHeight > b.clientHeight + 1).map((b) => b.querySelector('h2').textContent)",
    )) as string[];
  } finally {
    await browser.close();
  }
}

interface Options {
  out: string;
  html?: string;
  from?: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { out: path.join(ROOT, "docs", "dashboard.png") };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const key = ({ "--out": "out", "--html": "html", "--from": "from" } as const)[flag as "--out"];
    if (!key) throw new LayoutError(`unknown option ${flag} (options: --out <png>, --html <file>, --from <cdk.tf.json>)`);
    const value = argv[++i];
    if (value === undefined || value.startsWith("--")) throw new LayoutError(`${flag} needs a path`);
    options[key] = path.resolve(value);
  }
  return options;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  let tfJson = options.from;
  let tmp: string | undefined;
  if (!tfJson) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dashboard-synth-"));
    tfJson = synthesize(tmp);
  }
  try {
    const html = dashboardHtml(tfJson);
    if (options.html) {
      fs.mkdirSync(path.dirname(options.html), { recursive: true });
      fs.writeFileSync(options.html, html);
    }
    const overflowing = await screenshot(html, options.out);
    for (const title of overflowing) console.error(`warning: the text of widget "${title}" does not fit its box in the picture`);
    const shown = (file: string) => (path.relative(process.cwd(), file).startsWith("..") ? file : path.relative(process.cwd(), file));
    console.log(`wrote ${[options.out, options.html].filter((f): f is string => f !== undefined).map(shown).join(" and ")}`);
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    if (!(error instanceof LayoutError)) throw error;
    console.error(`render-dashboard: ${error.message}`);
    process.exit(1);
  });
}
