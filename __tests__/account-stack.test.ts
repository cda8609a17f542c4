import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Testing } from "cdktf";
import { AccountStack } from "../stacks/account-stack";
import { AccountConfig, loadConfig } from "../stacks/config";
import { PROJECT_ROOT, StackJson, environmentConfig, maskVolatile, only, problemOf, resourcesOf, synthStack } from "./helpers";

const shipped = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, "cdktf.json"), "utf8")).context.chatbot;

function synthAccount(account: AccountConfig): StackJson {
  return JSON.parse(Testing.synth(new AccountStack(Testing.app(), account.stackName, { config: account })));
}

describe("the account stack", () => {
  const [account] = loadConfig(shipped, {}).accounts;
  const json = synthAccount(account);

  it("owns the account's API Gateway CloudWatch role in exactly one stack with the shipped cdktf.json, which both environments depend on", () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "cdktf-out-"));
    try {
      execFileSync("node", ["--require", "tsx/cjs", "main.ts"], { cwd: PROJECT_ROOT, env: { ...process.env, CDKTF_OUTDIR: outdir, CHECKPOINT_DISABLE: "1" }, stdio: "pipe" });
      const manifest = JSON.parse(fs.readFileSync(path.join(outdir, "manifest.json"), "utf8"));
      const owners = Object.keys(manifest.stacks).filter((stack) => {
        const stackJson = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", stack, "cdk.tf.json"), "utf8"));
        return resourcesOf(stackJson, "aws_api_gateway_account").length > 0;
      });
      expect(owners).toEqual(["chatbot-account-ap-northeast-2"]);
      expect(manifest.stacks["chatbot-dev"].dependencies).toEqual(["chatbot-account-ap-northeast-2"]);
      expect(manifest.stacks["chatbot-prod"].dependencies).toEqual(["chatbot-account-ap-northeast-2"]);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });

  it("sets the role API Gateway logs with, named per region (IAM names are account-wide), and clears the setting when destroyed", () => {
    const role = only(json, "aws_iam_role");
    expect(role.name).toBe("chatbot-apigateway-cloudwatch-ap-northeast-2");
    expect(JSON.parse(role.assume_role_policy).Statement).toEqual([{ Effect: "Allow", Principal: { Service: "apigateway.amazonaws.com" }, Action: "sts:AssumeRole" }]);
    expect(only(json, "aws_iam_role_policy_attachment").policy_arn).toBe("arn:${data.aws_partition.partition.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs");
    expect(only(json, "aws_api_gateway_account")).toMatchObject({
      cloudwatch_role_arn: expect.stringMatching(/^\$\{aws_iam_role\.[\w-]+\.arn\}$/),
      reset_on_delete: true,
      depends_on: [expect.stringMatching(/^aws_iam_role_policy_attachment\./)],
    });
  });

  it("keeps its state beside the environments': the same S3 bucket under its own key, or its own Terraform Cloud workspace", () => {
    const [s3] = loadConfig({ ...shipped, backend: "s3", stateBucket: "tf-state" }, {}).accounts;
    expect(synthAccount(s3).terraform.backend.s3).toMatchObject({ bucket: "tf-state", key: "chatbot/chatbot-account-ap-northeast-2/terraform.tfstate", region: "ap-northeast-2", encrypt: true, use_lockfile: true });
    const cloud = { backend: "cloud", tfcOrganization: "acme", environments: { dev: { tfcWorkspace: "chatbot-dev" }, prod: { tfcWorkspace: "chatbot-prod" } } };
    const [tfc] = loadConfig(cloud, {}).accounts;
    expect(synthAccount(tfc).terraform.cloud).toMatchObject({ organization: "acme", workspaces: { name: "chatbot-account-ap-northeast-2" } });
  });

  it("is built only for the environments selected, but checked against every configured one", () => {
    expect(loadConfig(shipped, { CHATBOT_ENVIRONMENTS: "prod" }).accounts.map((a) => [a.stackName, a.environments])).toEqual([["chatbot-account-ap-northeast-2", ["dev", "prod"]]]);
    expect(loadConfig({ environments: { dev: { manageApiGatewayAccount: false } } }, {}).accounts).toEqual([]);
    expect(problemOf({ environments: { dev: {}, prod: { backend: "s3", stateBucket: "tf-state" } } }, { CHATBOT_ENVIRONMENTS: "dev" })).toMatch(/environments dev and prod share/);
  });

  it("gives accounts told apart by awsAccountId, and regions, stacks of their own", () => {
    const accounts = loadConfig({ environments: { dev: { awsAccountId: "111111111111" }, prod: { awsAccountId: "222222222222" }, eu: { awsAccountId: "222222222222", region: "eu-west-1" } } }, {}).accounts;
    expect(accounts.map((a) => [a.stackName, a.environments])).toEqual([
      ["chatbot-account-111111111111-ap-northeast-2", ["dev"]],
      ["chatbot-account-222222222222-ap-northeast-2", ["prod"]],
      ["chatbot-account-222222222222-eu-west-1", ["eu"]],
    ]);
  });

  it("fails the synth when two stacks would manage one account's setting, naming both and what to change", () => {
    expect(problemOf({ environments: { dev: {}, prod: { backend: "s3", stateBucket: "tf-state" } } })).toMatch(
      /environments dev and prod share the API Gateway account setting of awsAccountId unset in ap-northeast-2 \(stack chatbot-account-ap-northeast-2\), but would keep its state in two places \(local state terraform\.chatbot-account-ap-northeast-2\.tfstate; S3 state s3:\/\/tf-state\/chatbot\/chatbot-account-ap-northeast-2\/terraform\.tfstate \(ap-northeast-2\)\), so two copies of the stack would manage it: give both the same backend, set awsAccountId if they are different accounts, or set manageApiGatewayAccount false on one of them/,
    );
    expect(problemOf({ environments: { dev: {}, prod: { awsAccountId: "222222222222" } } })).toMatch(
      /environments dev \(awsAccountId unset\) and prod \(awsAccountId 222222222222\) in ap-northeast-2 would get two account stacks, chatbot-account-ap-northeast-2 and chatbot-account-222222222222-ap-northeast-2, .*set awsAccountId on dev too, or manageApiGatewayAccount false on one of them/,
    );
    expect(() => loadConfig({ environments: { dev: { manageApiGatewayAccount: false }, prod: { awsAccountId: "222222222222" } } }, {})).not.toThrow();
  });

  it("matches its snapshot", () => {
    expect(maskVolatile(json)).toMatchSnapshot();
  });
});

describe("awsAccountId", () => {
  it("sets allowed_account_ids on every AWS provider of the environment's stack and of its account stack", () => {
    const config = loadConfig({ environments: { prod: { awsAccountId: "123456789012" } } }, {});
    const env = synthStack(config.environments[0]);
    expect(env.provider!.aws.map((p) => p.allowed_account_ids)).toEqual([["123456789012"], ["123456789012"]]);
    const account = synthAccount(config.accounts[0]);
    expect(account.provider!.aws.map((p) => p.allowed_account_ids)).toEqual([["123456789012"]]);
    expect(synthStack().provider!.aws.map((p) => p.allowed_account_ids)).toEqual([undefined, undefined]);
  });

  it("must be 12 digits", () => {
    expect(problemOf({ awsAccountId: "12345678901" })).toMatch(/awsAccountId = "12345678901" .*a 12-digit AWS account id/);
    expect(problemOf({}, { CHATBOT_AWS_ACCOUNT_ID: "1234-5678-9012" })).toMatch(/awsAccountId = "1234-5678-9012" \(from environment variable CHATBOT_AWS_ACCOUNT_ID\)/);
    expect(environmentConfig({}, { CHATBOT_AWS_ACCOUNT_ID: "123456789012" }).awsAccountId).toBe("123456789012");
  });
});
