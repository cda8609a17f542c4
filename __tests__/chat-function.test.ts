import { Testing } from "cdktf";
import { ChatFunction, ChatFunctionOptions } from "../stacks/chat-function";
import { FunctionPackage } from "../stacks/function-package";
import { CHAT_SETTINGS, FIXTURES, StackJson, only, policy } from "./helpers";

const ENDPOINT_ARN = "arn:aws:sagemaker:ap-northeast-2:123456789012:endpoint/falcon";

function synthFunction(options: Partial<ChatFunctionOptions> = {}): StackJson {
  return JSON.parse(
    Testing.synthScope((scope) => {
      new ChatFunction(scope, "chat-function", {
        functionName: "lambda-chat-api-dev",
        code: new FunctionPackage(scope, "function-package", { sourceDir: FIXTURES.lambdaDir }),
        settings: CHAT_SETTINGS,
        endpointArn: ENDPOINT_ARN,
        ...options,
      });
    }),
  );
}

describe("ChatFunction", () => {
  const json = synthFunction();

  it("deploys the package's zip and redeploys when its hash changes", () => {
    const fn = only(json, "aws_lambda_function");
    expect(fn.filename).toMatch(/^\$\{data\.archive_file\.[\w-]+\.output_path\}$/);
    expect(fn.source_code_hash).toMatch(/^\$\{data\.archive_file\.[\w-]+\.output_base64sha256\}$/);
  });

  it("runs the seed's handler on python3.13 with JSON logs", () => {
    expect(only(json, "aws_lambda_function")).toMatchObject({
      function_name: "lambda-chat-api-dev",
      handler: "lambda_function.lambda_handler",
      runtime: "python3.13",
      timeout: 120,
      logging_config: { log_format: "JSON" },
    });
  });

  it("passes the endpoint name, the generation parameters and the model's token limits as environment variables", () => {
    expect(only(json, "aws_lambda_function").environment.variables).toEqual({
      endpoint: "falcon",
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
      PAYLOAD_STYLE: "inputs",
      MODEL_TOKENIZER: "falcon",
      SYSTEM_PROMPT: "",
      LOG_PROMPTS: "false",
    });
  });

  it("creates its log group with the retention before the function", () => {
    const logGroup = only(json, "aws_cloudwatch_log_group");
    expect(logGroup).toMatchObject({ name: "/aws/lambda/lambda-chat-api-dev", retention_in_days: 1 });
    const fn = only(json, "aws_lambda_function");
    expect(fn.depends_on).toEqual(Object.keys(json.resource.aws_cloudwatch_log_group).map((id) => `aws_cloudwatch_log_group.${id}`));
    expect(fn.logging_config.log_group).toMatch(/^\$\{aws_cloudwatch_log_group\.[\w-]+\.name\}$/);
  });

  it("lets its role write only to its own log group and invoke only the one endpoint", () => {
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

  it("runs another handler of the package with other model actions and extra variables when told", () => {
    const other = synthFunction({
      functionName: "lambda-chat-stream-dev",
      handler: "stream_function.lambda_handler",
      modelActions: ["sagemaker:InvokeEndpointWithResponseStream"],
      environment: { MAX_ANSWERS_PER_CONNECTION: "5" },
    });
    const fn = only(other, "aws_lambda_function");
    expect(fn.handler).toBe("stream_function.lambda_handler");
    expect(fn.environment.variables).toMatchObject({ endpoint: "falcon", MAX_ANSWERS_PER_CONNECTION: "5" });
    expect(policy(only(other, "aws_iam_role_policy").policy).Statement[1].Action).toEqual(["sagemaker:InvokeEndpointWithResponseStream"]);
  });

  it("lets only Lambda assume its role and attaches no managed policy", () => {
    const trust = policy(only(json, "aws_iam_role").assume_role_policy);
    expect(trust.Statement).toEqual([{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }]);
    expect(json.resource.aws_iam_role_policy_attachment).toBeUndefined();
  });
});
