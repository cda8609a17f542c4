/**
 * scripts/render-dashboard.ts: the dashboard's layout picture, from one synth of the app
 * (dev, model deployed) for the whole file; the script itself runs as `tsx` would run it,
 * with --from pointing at that synth.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { UNIT_HEIGHT, UNIT_WIDTH } from "../../scripts/dashboard-layout";
import { ROOT, dashboardHtml, synthesize } from "../../scripts/render-dashboard";

const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const SCRIPT = path.join(ROOT, "scripts", "render-dashboard.ts");

interface RawWidget {
  y: number;
  height: number;
  properties: { title: string };
}

let tmp: string;
let tfJson: string;
let widgets: RawWidget[];
let rendered: { status: number | null; stdout: string; stderr: string };

function render(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(TSX, [SCRIPT, ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env }, timeout: 60000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const bytes = fs.readFileSync(file);
  expect(bytes.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** A copy of the synthesized stack whose dashboard body is `body`, or with no dashboard. */
function stackWith(body: string | undefined): string {
  const stack = JSON.parse(fs.readFileSync(tfJson, "utf8"));
  const dashboards = stack.resource.aws_cloudwatch_dashboard;
  if (body === undefined) delete stack.resource.aws_cloudwatch_dashboard;
  else for (const dashboard of Object.values<{ dashboard_body: string }>(dashboards)) dashboard.dashboard_body = body;
  const file = path.join(tmp, `stack-${body === undefined ? "none" : "body"}.json`);
  fs.writeFileSync(file, JSON.stringify(stack));
  return file;
}

function expectNamedFailure(result: { status: number | null; stderr: string }, problem: RegExp) {
  expect(result.status).not.toBe(0);
  expect(result.stderr).toMatch(problem);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dashboard-picture-"));
  tfJson = synthesize(path.join(tmp, "out"));
  const stack = JSON.parse(fs.readFileSync(tfJson, "utf8"));
  const [dashboard] = Object.values<{ dashboard_body: string }>(stack.resource.aws_cloudwatch_dashboard);
  widgets = JSON.parse(dashboard.dashboard_body).widgets;
  rendered = render(["--from", tfJson, "--out", path.join(tmp, "dashboard.png"), "--html", path.join(tmp, "dashboard.html")]);
}, 60000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it("writes a PNG as wide as the 24-column grid and as tall as the dashboard's rows", () => {
  expect(rendered.stderr).toBe("");
  expect(rendered.status).toBe(0);
  const { width, height } = pngSize(path.join(tmp, "dashboard.png"));
  const rows = Math.max(...widgets.map((w) => w.y + w.height));
  expect(width).toBeGreaterThanOrEqual(24 * UNIT_WIDTH);
  expect(width).toBeLessThan(24 * UNIT_WIDTH + 200);
  expect(height).toBeGreaterThanOrEqual(rows * UNIT_HEIGHT);
  expect(height).toBeLessThan(rows * UNIT_HEIGHT + 300);
});

it("names every widget of the synthesized dashboard by its title", () => {
  const html = fs.readFileSync(path.join(tmp, "dashboard.html"), "utf8");
  const escaped = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  expect(widgets.length).toBeGreaterThanOrEqual(9);
  for (const { properties } of widgets) expect(html).toContain(escaped(properties.title));
});

it("shows Terraform references as short placeholders, never a raw ${", () => {
  expect(fs.readFileSync(tfJson, "utf8")).toContain("${aws_");
  const html = fs.readFileSync(path.join(tmp, "dashboard.html"), "utf8");
  expect(html).not.toContain("${");
  expect(html).toMatch(/‹[\w-]+\.name›/);
});

it("fits every widget's text in its box (no overflow warning)", () => {
  expect(rendered.stderr).not.toMatch(/does not fit/);
});

it("writes the same HTML for the same stack", () => {
  expect(dashboardHtml(tfJson)).toBe(fs.readFileSync(path.join(tmp, "dashboard.html"), "utf8"));
});

it("says so and exits non-zero when the stack has no dashboard", () => {
  expectNamedFailure(render(["--from", stackWith(undefined), "--out", path.join(tmp, "none.png")]), /no aws_cloudwatch_dashboard/);
  expect(fs.existsSync(path.join(tmp, "none.png"))).toBe(false);
});

it("says so and exits non-zero when the dashboard body is not JSON", () => {
  expectNamedFailure(render(["--from", stackWith("{ widgets: ["), "--out", path.join(tmp, "bad.png")]), /dashboard_body is not JSON/);
});

it("says so and exits non-zero when Chromium is missing", () => {
  const result = render(["--from", tfJson, "--out", path.join(tmp, "nochromium.png")], { CHROMIUM_PATH: path.join(tmp, "no-chromium") });
  expectNamedFailure(result, /Chromium not found at .*no-chromium/);
});
