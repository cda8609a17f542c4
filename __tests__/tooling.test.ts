import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_ROOT } from "./helpers";

const read = (file: string) => fs.readFileSync(path.join(PROJECT_ROOT, file), "utf8");

describe("the README's first command", () => {
  it("synthesizes through npm run synth, the CLI without the settings that print [ERROR] lines offline", () => {
    const scripts = JSON.parse(read("package.json")).scripts;
    expect(scripts.synth).toBe("bash scripts/cdktf.sh synth");
    expect(scripts.deploy).toBe("bash scripts/cdktf.sh deploy");
    const quickStart = read("README.md").split("## Quick start")[1].split("```sh")[1].split("```")[0];
    expect(quickStart.trim().split("\n")[0]).toMatch(/^npm ci && npm run synth\s/);
  });

  it("prints no [ERROR] line, even with a TF_CLI_CONFIG_FILE that names a missing file", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "first-synth-"));
    const env: NodeJS.ProcessEnv = { ...process.env, TF_CLI_CONFIG_FILE: path.join(out, "missing.tfrc") };
    delete env.CHECKPOINT_DISABLE; // the wrapper must set it itself
    const run = spawnSync("bash", ["scripts/cdktf.sh", "synth", "--output", out], { cwd: PROJECT_ROOT, env, encoding: "utf8" });
    expect(run.status).toBe(0);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/\[ERROR\]/);
    expect(fs.existsSync(path.join(out, "stacks", "chatbot-dev", "cdk.tf.json"))).toBe(true);
    fs.rmSync(out, { recursive: true, force: true });
  }, 120_000);
});

describe("the pull-request workflow", () => {
  // Without comments: only what GitHub reads.
  const workflow = read(".github/workflows/pull-request.yml").replace(/(^|\s)#.*$/gm, "");
  const job = (name: string) => workflow.split(new RegExp(`^  ${name}:\\n`, "m"))[1].split(/^  \w[\w-]*:\n/m)[0];

  it("gives AWS credentials only to the plan job, and runs it only for this repository's own branches", () => {
    expect(workflow).not.toMatch(/pull_request_target/);
    expect(workflow.split("\njobs:")[0]).not.toMatch(/id-token/);
    expect(job("test")).not.toMatch(/id-token|configure-aws-credentials|secrets\./);
    expect(job("plan")).toMatch(/if: \$\{\{ vars\.AWS_PLAN_ROLE_ARN != '' && github\.event\.pull_request\.head\.repo\.full_name == github\.repository \}\}/);
    expect(job("plan")).toMatch(/id-token: write/);
    expect(job("plan")).not.toMatch(/-lock=false/);
  });

  it("documents the plan role's trust (this repository's pull-request runs) and its read-only permissions", () => {
    const doc = read("docs/ci-plan-role.md");
    const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]));
    expect(blocks[0].Statement[0].Condition.StringEquals).toEqual({
      "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
      "token.actions.githubusercontent.com:sub": "repo:<OWNER>/<REPO>:pull_request",
    });
    const writes = blocks[1].Statement.filter((s: any) => s.Action.some((a: string) => /Put|Delete/.test(a)));
    expect(writes).toEqual([expect.objectContaining({ Resource: "arn:aws:s3:::<STATE_BUCKET>/chatbot/*.tflock" })]);
  });
});

describe("scripts/synth-many.ts (terraform validate's variants in one process)", () => {
  const files = (dir: string): Map<string, string> => {
    const found = new Map<string, string>();
    const walk = (sub: string) => {
      for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
        const rel = path.join(sub, entry.name);
        if (entry.isDirectory()) walk(rel);
        else found.set(rel, fs.readFileSync(path.join(dir, rel), "utf8"));
      }
    };
    walk("");
    return found;
  };

  it("writes, for each variant, the same files as main.ts with that variant's settings", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "synth-many-"));
    const settings = { CHATBOT_ENVIRONMENTS: "dev", CHATBOT_AUTH: "none" };
    const env = { ...process.env, CHECKPOINT_DISABLE: "1" };
    const single = spawnSync("node", ["--require", "tsx/cjs", "main.ts"], { cwd: PROJECT_ROOT, env: { ...env, ...settings, CDKTF_OUTDIR: path.join(out, "main") } });
    const spec = JSON.stringify([{ outdir: path.join(out, "defaults"), env: {} }, { outdir: path.join(out, "variant"), env: settings }]);
    const many = spawnSync("node", ["--require", "tsx/cjs", "scripts/synth-many.ts", spec], { cwd: PROJECT_ROOT, env, encoding: "utf8" });
    expect([single.status, many.status, many.stderr]).toEqual([0, 0, ""]);
    const [fromMain, fromMany] = [files(path.join(out, "main")), files(path.join(out, "variant"))];
    expect([...fromMany.keys()].sort()).toEqual([...fromMain.keys()].sort());
    for (const [file, text] of fromMain) expect({ file, same: fromMany.get(file) === text }).toEqual({ file, same: true });
    // The variant before it kept its own settings: the defaults' environments, not just dev.
    expect(fs.existsSync(path.join(out, "defaults", "stacks", "chatbot-prod", "cdk.tf.json"))).toBe(true);
    expect(fs.existsSync(path.join(out, "variant", "stacks", "chatbot-prod"))).toBe(false);
    fs.rmSync(out, { recursive: true, force: true });
  }, 120_000);

  it("exits 1 naming the variant and the invalid setting", () => {
    const spec = JSON.stringify([{ outdir: path.join(os.tmpdir(), "synth-many-invalid"), env: { CHATBOT_AUTH: "nope" } }]);
    const run = spawnSync("node", ["--require", "tsx/cjs", "scripts/synth-many.ts", spec], { cwd: PROJECT_ROOT, env: { ...process.env, CHECKPOINT_DISABLE: "1" }, encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/synth-many-invalid: Invalid chatbot configuration:[\s\S]*auth = "nope"/);
  }, 60_000);
});
