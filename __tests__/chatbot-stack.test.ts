import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { listFiles } from "../stacks/staged-directory";
import { SETTINGS, loadConfig } from "../stacks/config";
import { modelReadTimeoutSeconds } from "../stacks/chatbot-stack";
import { PROJECT_ROOT, StackJson, byId, environmentConfig, maskVolatile, resourcesOf, synthStack } from "./helpers";

const cdktfJson = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "cdktf.json"), "utf8"));
const projectSources = { lambdaDir: path.join(PROJECT_ROOT, "lambda-chat"), siteDir: path.join(PROJECT_ROOT, "site") };

/** Every name AWS needs unique within an account and region, for collision checks. */
function regionalNames(json: StackJson): string[] {
  return [
    ...resourcesOf(json, "aws_lambda_function").map((r) => `lambda:${r.function_name}`),
    ...resourcesOf(json, "aws_iam_role").map((r) => `role:${r.name}`),
    ...resourcesOf(json, "aws_api_gateway_rest_api").map((r) => `api:${r.name}`),
    ...resourcesOf(json, "aws_cloudwatch_log_group").map((r) => `log:${r.name}`),
    ...resourcesOf(json, "aws_cloudfront_origin_access_control").map((r) => `oac:${r.name}`),
    ...resourcesOf(json, "aws_s3_bucket").map((r) => `bucket:${r.bucket_prefix}`),
    ...resourcesOf(json, "aws_apigatewayv2_api").map((r) => `websocket-api:${r.name}`),
    ...resourcesOf(json, "aws_dynamodb_table").map((r) => `table:${r.name}`),
    // A name holding a reference (an API id) is unique once deployed.
  ].filter((name) => !name.includes("${"));
}

describe("ChatbotStack", () => {
  const json = synthStack();

  it("configures the AWS provider for the region with default tags and no emulator endpoints", () => {
    const [aws] = json.provider!.aws;
    expect(aws).toEqual({
      region: "ap-northeast-2",
      default_tags: [{ tags: { Project: "falcon-chatbot", Environment: "dev", ManagedBy: "cdktf" } }],
    });
  });

  it("pins the AWS provider to the version its bindings were generated from", () => {
    expect(json.terraform.required_providers.aws).toEqual({ source: "aws", version: "5.100.0" });
    expect(json.terraform.required_providers.archive.source).toBe("hashicorp/archive");
  });

  it("sends every AWS call to the emulator only when the test-only endpoint setting is given", () => {
    const emulated = synthStack(environmentConfig({ awsEndpointUrl: "http://127.0.0.1:5000" }));
    const [aws] = emulated.provider!.aws;
    expect(aws.endpoints).toEqual([
      expect.objectContaining({ apigateway: "http://127.0.0.1:5000", cloudfront: "http://127.0.0.1:5000", lambda: "http://127.0.0.1:5000", s3: "http://127.0.0.1:5000", sts: "http://127.0.0.1:5000" }),
    ]);
    expect(aws.s3_use_path_style).toBe(true);
  });

  it("scopes the model permission to the configured endpoint's ARN, in SageMaker's lower case", () => {
    const custom = synthStack(environmentConfig({ endpointName: "My-Falcon-40B", region: "us-west-2" }));
    expect(JSON.stringify(custom.resource.aws_iam_role_policy)).toContain(
      "arn:${data.aws_partition.partition.partition}:sagemaker:us-west-2:${data.aws_caller_identity.caller.account_id}:endpoint/my-falcon-40b",
    );
  });

  it("keeps the model read timeout inside the integration and Lambda timeouts", () => {
    expect(modelReadTimeoutSeconds({ integrationTimeoutMs: 29000, lambdaTimeoutSeconds: 120 })).toBe(25);
    expect(modelReadTimeoutSeconds({ integrationTimeoutMs: 120000, lambdaTimeoutSeconds: 60 })).toBe(56);
    expect(modelReadTimeoutSeconds({ integrationTimeoutMs: 3000, lambdaTimeoutSeconds: 120 })).toBe(1);
    expect(byId(json, "aws_lambda_function", "chat-function").environment.variables.MODEL_READ_TIMEOUT_SECONDS).toBe("25");
  });

  it("outputs the domain, the page URL, the API URL, a curl example, the bucket, the stream URL, the dashboard and the model endpoint", () => {
    expect(synthStack(environmentConfig({ auth: "none" })).output).toEqual({
      distributionDomainName: expect.objectContaining({ value: expect.stringMatching(/^\$\{aws_cloudfront_distribution\.[\w-]+\.domain_name\}$/) }),
      WebUrl: expect.objectContaining({ value: expect.stringMatching(/^https:\/\/\$\{aws_cloudfront_distribution\.[\w-]+\.domain_name\}\/chat\.html$/) }),
      ApiUrl: expect.objectContaining({ value: expect.stringMatching(/^\$\{aws_api_gateway_stage\.[\w-]+\.invoke_url\}\/chat$/) }),
      CurlExample: expect.objectContaining({ value: expect.stringMatching(/^curl -s -X POST https:\/\/\$\{.*\}\/chat -H 'Content-Type: application\/json' -d '\{"text":"[^"]+"\}'$/) }),
      SiteBucketName: expect.objectContaining({ value: expect.stringMatching(/^\$\{aws_s3_bucket\.[\w-]+\.bucket\}$/) }),
      DashboardUrl: expect.objectContaining({ value: expect.stringMatching(/^https:\/\/ap-northeast-2\.console\.aws\.amazon\.com\/cloudwatch\//) }),
      StreamUrl: expect.objectContaining({ value: expect.stringMatching(/^wss:\/\/\$\{aws_cloudfront_distribution\.[\w-]+\.domain_name\}\/stream$/) }),
      ModelEndpointName: expect.objectContaining({ value: "jumpstart-dft-hf-llm-falcon-7b-instruct-bf16" }),
    });
  });

  it("gives two environments resource names that cannot collide in one account and region", () => {
    const { environments } = loadConfig({ environments: { dev: {}, prod: {} } }, {});
    const [dev, prod] = environments.map((e) => regionalNames(synthStack(e)));
    expect(dev.filter((n) => prod.includes(n))).toEqual([]);
    expect(dev).toContain("lambda:lambda-chat-api-dev");
    expect(prod).toContain("lambda:lambda-chat-api-prod");
  });
});

describe("synthesized stacks of this project (cdktf.json context, real lambda-chat/ and site/)", () => {
  const { environments } = loadConfig(cdktfJson.context.chatbot, {});

  it.each(environments.map((e) => [e.name, e] as const))("matches the reviewed snapshot for %s", (_name, config) => {
    expect(maskVolatile(synthStack(config, projectSources))).toMatchSnapshot();
  });

  it("packages every file of site/ and the handler of lambda-chat/", () => {
    const json = synthStack(environments[0], projectSources);
    const keys = resourcesOf(json, "aws_s3_object").map((o) => o.key).sort();
    // Plus the page's sign-in configuration, which the stack writes (PAGE_CONFIG_KEY).
    expect(keys).toEqual([...listFiles(projectSources.siteDir).filter((f) => !f.startsWith(".")), "auth-config.json"].sort());
    expect(keys).toContain("chat.html");
  });
});

describe("cdktf synth output", () => {
  /** Runs the app as `cdktf synth` does, into a fresh directory, and returns every file's bytes. */
  function synthToDir(): Map<string, Buffer> {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-out-"));
    execFileSync("node", ["--require", "tsx/cjs", "main.ts"], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, CDKTF_OUTDIR: outdir, CHECKPOINT_DISABLE: "1" },
      stdio: "pipe",
    });
    const files = new Map(listFiles(outdir).map((f) => [f, fs.readFileSync(path.join(outdir, f))]));
    fs.rmSync(outdir, { recursive: true, force: true });
    return files;
  }

  it("is byte-identical when synthesized twice and holds no absolute path of the build machine", () => {
    const first = synthToDir();
    const second = synthToDir();
    expect([...first.keys()]).toEqual([...second.keys()]);
    for (const [file, bytes] of first) expect({ file, same: bytes.equals(second.get(file)!) }).toEqual({ file, same: true });

    const forbidden = [PROJECT_ROOT, os.tmpdir(), os.homedir()].filter((p) => p.length > 1);
    for (const [file, bytes] of first) {
      const text = bytes.toString("utf8");
      for (const p of forbidden) expect({ file, contains: p, found: text.includes(p) }).toEqual({ file, contains: p, found: false });
    }
    expect([...first.keys()].filter((f) => f.endsWith("cdk.tf.json")).sort()).toEqual(
      [...Object.keys(cdktfJson.context.chatbot.environments).map((e) => `stacks/chatbot-${e}/cdk.tf.json`), "stacks/chatbot-account-ap-northeast-2/cdk.tf.json"].sort(),
    );
  });

  it("fails with a message naming the setting when the configuration is invalid", () => {
    let stderr = "";
    try {
      execFileSync("node", ["--require", "tsx/cjs", "main.ts"], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, CDKTF_OUTDIR: fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-out-")), CHATBOT_LOG_RETENTION_DAYS: "2" },
        stdio: "pipe",
      });
    } catch (error: any) {
      stderr = String(error.stderr);
      expect(error.status).toBe(1);
    }
    expect(stderr).toMatch(/logRetentionDays = 2 \(from environment variable CHATBOT_LOG_RETENTION_DAYS\) is invalid/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

describe("README", () => {
  const readme = fs.readFileSync(path.join(PROJECT_ROOT, "README.md"), "utf8");

  it("documents every setting and its environment variable in the configuration table", () => {
    for (const [key, { env }] of Object.entries(SETTINGS)) {
      expect({ key, documented: new RegExp(`\\|\\s*\`${key}\`\\s*\\|\\s*\`${env}\``).test(readme) }).toEqual({ key, documented: true });
    }
  });
});
