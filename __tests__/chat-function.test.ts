import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Testing } from "cdktf";
import { ChatFunction, isExcludedFromPackage } from "../stacks/chat-function";
import { DEFAULT_GENERATION } from "../stacks/config";
import { FIXTURES, StackJson, only, policy } from "./helpers";

const ENDPOINT_ARN = "arn:aws:sagemaker:ap-northeast-2:123456789012:endpoint/falcon";

function synthFunction(sourceDir = FIXTURES.lambdaDir): { json: StackJson; fn: ChatFunction } {
  let fn!: ChatFunction;
  const json = JSON.parse(
    Testing.synthScope((scope) => {
      fn = new ChatFunction(scope, "chat-function", {
        functionName: "lambda-chat-api-dev",
        sourceDir,
        endpointName: "Falcon",
        endpointArn: ENDPOINT_ARN,
        generation: DEFAULT_GENERATION,
        maxTextChars: 4000,
        maxHistoryTurns: 10,
        maxHistoryChars: 8000,
        modelReadTimeoutSeconds: 25,
        modelTokenLimits: { maxInputTokens: 1024, maxTotalTokens: 2048 },
      });
    }),
  );
  return { json, fn };
}

describe("ChatFunction", () => {
  it("packages the handler with archive_file, a pinned file mode and a relative path", () => {
    const { json } = synthFunction();
    const archive = only({ resource: json.data ?? {} } as StackJson, "archive_file");
    expect(archive).toMatchObject({ type: "zip", output_file_mode: "0644" });
    expect(archive.source_dir).toMatch(/^assets\/[\w-]+\/[0-9A-F]{16}$/);
    expect(archive.output_path).toBe(`${archive.source_dir}.zip`);
  });

  it("deploys the archive and redeploys when its hash changes", () => {
    const { json } = synthFunction();
    const fn = only(json, "aws_lambda_function");
    expect(fn.filename).toMatch(/^\$\{data\.archive_file\.[\w-]+\.output_path\}$/);
    expect(fn.source_code_hash).toMatch(/^\$\{data\.archive_file\.[\w-]+\.output_base64sha256\}$/);
  });

  it("leaves tests, caches and development files out of the package", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambda-src-"));
    fs.cpSync(FIXTURES.lambdaDir, dir, { recursive: true });
    fs.mkdirSync(path.join(dir, "__pycache__"));
    fs.writeFileSync(path.join(dir, "__pycache__", "lambda_function.cpython-311.pyc"), "bytecode");
    fs.writeFileSync(path.join(dir, ".env"), "SECRET=1");
    const { fn } = synthFunction(dir);
    expect(fn.packagedFiles).toEqual(["lambda_function.py"]);
    expect(["tests/test_x.py", "__pycache__/a.pyc", "x.pyc", "requirements-dev.txt", "README.md", ".env", "conftest.py"].every(isExcludedFromPackage)).toBe(true);
  });

  it("names the package folder after the packaged files only, so caches do not change the plan", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambda-src-"));
    fs.cpSync(FIXTURES.lambdaDir, dir, { recursive: true });
    const before = only({ resource: synthFunction(dir).json.data ?? {} } as StackJson, "archive_file").source_dir;
    fs.mkdirSync(path.join(dir, "__pycache__"));
    fs.writeFileSync(path.join(dir, "__pycache__", "x.pyc"), "bytecode");
    const withCache = only({ resource: synthFunction(dir).json.data ?? {} } as StackJson, "archive_file").source_dir;
    fs.appendFileSync(path.join(dir, "lambda_function.py"), "# changed\n");
    const changed = only({ resource: synthFunction(dir).json.data ?? {} } as StackJson, "archive_file").source_dir;
    expect(withCache).toBe(before);
    expect(changed).not.toBe(before);
  });

  it("refuses a source directory without lambda_function.py", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambda-src-"));
    fs.writeFileSync(path.join(dir, "handler.py"), "");
    expect(() => synthFunction(dir)).toThrow(/has no lambda_function\.py/);
  });

  it("runs the seed's handler on python3.13 with JSON logs", () => {
    const { json } = synthFunction();
    expect(only(json, "aws_lambda_function")).toMatchObject({
      function_name: "lambda-chat-api-dev",
      handler: "lambda_function.lambda_handler",
      runtime: "python3.13",
      timeout: 120,
      logging_config: { log_format: "JSON" },
    });
  });

  it("passes the endpoint name, the generation parameters and the model's token limits as environment variables", () => {
    const { json } = synthFunction();
    expect(only(json, "aws_lambda_function").environment.variables).toEqual({
      endpoint: "Falcon",
      MAX_NEW_TOKENS: "512",
      DO_SAMPLE: "false",
      TEMPERATURE: "0.5",
      REPETITION_PENALTY: "1.03",
      TOP_P: "0.9",
      TOP_K: "1",
      STOP_SEQUENCES: '["<|endoftext|>","</s>"]',
      MAX_TEXT_CHARS: "4000",
      MAX_HISTORY_TURNS: "10",
      MAX_HISTORY_CHARS: "8000",
      MODEL_READ_TIMEOUT_SECONDS: "25",
      MODEL_MAX_INPUT_TOKENS: "1024",
      MODEL_MAX_TOTAL_TOKENS: "2048",
      LOG_PROMPTS: "false",
    });
  });

  it("creates its log group with the retention before the function", () => {
    const { json } = synthFunction();
    const logGroup = only(json, "aws_cloudwatch_log_group");
    expect(logGroup).toMatchObject({ name: "/aws/lambda/lambda-chat-api-dev", retention_in_days: 1 });
    const fn = only(json, "aws_lambda_function");
    expect(fn.depends_on).toEqual(Object.keys(json.resource.aws_cloudwatch_log_group).map((id) => `aws_cloudwatch_log_group.${id}`));
    expect(fn.logging_config.log_group).toMatch(/^\$\{aws_cloudwatch_log_group\.[\w-]+\.name\}$/);
  });

  it("lets its role write only to its own log group and invoke only the one endpoint", () => {
    const { json } = synthFunction();
    const doc = policy(only(json, "aws_iam_role_policy").policy);
    expect(doc.Statement).toEqual([
      {
        Sid: "WriteOwnLogs",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: [expect.stringMatching(/^\$\{aws_cloudwatch_log_group\.[\w-]+\.arn\}:\*$/)],
      },
      { Sid: "InvokeTheModel", Effect: "Allow", Action: ["sagemaker:InvokeEndpoint"], Resource: [ENDPOINT_ARN] },
    ]);
    expect(JSON.stringify(doc)).not.toMatch(/"\*"|sagemaker:\*|logs:\*/);
  });

  it("lets only Lambda assume its role and attaches no managed policy", () => {
    const { json } = synthFunction();
    const trust = policy(only(json, "aws_iam_role").assume_role_policy);
    expect(trust.Statement).toEqual([{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }]);
    expect(json.resource.aws_iam_role_policy_attachment).toBeUndefined();
  });
});
