import { QUERIES } from "../stacks/operations/log-queries";
import { StackJson, byId, environmentConfig, only, policy, resourcesOf, synthStack } from "./helpers";

const full = synthStack(environmentConfig({ modelDeploy: true, alarmEmail: "ops@example.com", budgetMonthlyUsd: 1500 }));
const plain = synthStack();
const REF = (type: string, attribute: string) => new RegExp(`^\\$\\{${type}\\.[\\w-]+\\.${attribute}\\}$`);

/** The alarm named chatbot-dev-<id>. */
function alarm(json: StackJson, id: string): any {
  const found = resourcesOf(json, "aws_cloudwatch_metric_alarm").filter((a) => a.alarm_name === `chatbot-dev-${id}`);
  if (found.length !== 1) throw new Error(`expected one alarm chatbot-dev-${id}, found ${found.length}`);
  return found[0];
}
const topicOf = (json: StackJson, name: string) => Object.entries(json.resource.aws_sns_topic).find(([, t]: [string, any]) => t.name === name)!;
const topicRef = (json: StackJson, name: string) => `\${aws_sns_topic.${topicOf(json, name)[0]}.arn}`;

describe("ChatAlarms", () => {
  // [alarm, namespace, metric, dimension names → reference pattern, statistic, threshold]
  const cases: [string, string, string, Record<string, RegExp | string>, string, number][] = [
    ["cloudfront-5xx-rate", "AWS/CloudFront", "5xxErrorRate", { DistributionId: REF("aws_cloudfront_distribution", "id"), Region: "Global" }, "Average", 5],
    ["api-5xx-rate", "AWS/ApiGateway", "5XXError", { ApiName: REF("aws_api_gateway_rest_api", "name"), Stage: REF("aws_api_gateway_stage", "stage_name") }, "Average", 0.05],
    ["api-latency-p90", "AWS/ApiGateway", "Latency", { ApiName: REF("aws_api_gateway_rest_api", "name"), Stage: REF("aws_api_gateway_stage", "stage_name") }, "p90", 24650],
    ["chat-function-errors", "AWS/Lambda", "Errors", { FunctionName: REF("aws_lambda_function", "function_name") }, "Sum", 10],
    ["chat-function-throttles", "AWS/Lambda", "Throttles", { FunctionName: REF("aws_lambda_function", "function_name") }, "Sum", 1],
    ["chat-function-duration-p90", "AWS/Lambda", "Duration", { FunctionName: REF("aws_lambda_function", "function_name") }, "p90", 23200],
    ["stream-function-errors", "AWS/Lambda", "Errors", { FunctionName: REF("aws_lambda_function", "function_name") }, "Sum", 1],
    ["stream-function-throttles", "AWS/Lambda", "Throttles", { FunctionName: REF("aws_lambda_function", "function_name") }, "Sum", 1],
    ["stream-function-duration-p90", "AWS/Lambda", "Duration", { FunctionName: REF("aws_lambda_function", "function_name") }, "p90", 96000],
    ["model-5xx-errors", "AWS/SageMaker", "Invocation5XXErrors", { EndpointName: REF("aws_sagemaker_endpoint", "name"), VariantName: "AllTraffic" }, "Sum", 1],
    ["model-latency-p90", "AWS/SageMaker", "ModelLatency", { EndpointName: REF("aws_sagemaker_endpoint", "name"), VariantName: "AllTraffic" }, "p90", 20_000_000],
    ["waf-blocked-requests", "AWS/WAFV2", "BlockedRequests", { WebACL: REF("aws_wafv2_web_acl", "name"), Rule: "ALL" }, "Sum", 500],
    // Counted by the functions themselves (lambda-chat/observability/metrics.py), one per path.
    ["chat-answers-5xx-rate", "FalconChatbot", "ServerErrors", { FunctionName: /^\$\{aws_lambda_function\.chat-function_[0-9A-F]{8}\.function_name\}$/ }, "Average", 0.05],
    ["stream-answers-5xx-rate", "FalconChatbot", "ServerErrors", { FunctionName: /^\$\{aws_lambda_function\.chat-stream_stream-function_[0-9A-F]{8}\.function_name\}$/ }, "Average", 0.05],
  ];

  it.each(cases)("alarms on %s with its metric, dimensions, statistic and threshold", (id, namespace, metric, dimensions, statistic, threshold) => {
    const a = alarm(full, id);
    expect(a).toMatchObject({ namespace, metric_name: metric, threshold, comparison_operator: "GreaterThanOrEqualToThreshold", period: 300, evaluation_periods: 1 });
    expect(a.dimensions).toEqual(Object.fromEntries(Object.entries(dimensions).map(([k, v]) => [k, typeof v === "string" ? v : expect.stringMatching(v)])));
    if (statistic.startsWith("p")) expect([a.extended_statistic, a.statistic]).toEqual([statistic, undefined]);
    else expect([a.statistic, a.extended_statistic]).toEqual([statistic, undefined]);
    expect(a.alarm_description.length).toBeGreaterThan(60);
  });

  it("points each function's alarms at that function", () => {
    const chat = `\${aws_lambda_function.${Object.keys(full.resource.aws_lambda_function).find((k) => k.startsWith("chat-function"))}.function_name}`;
    const stream = `\${aws_lambda_function.${Object.keys(full.resource.aws_lambda_function).find((k) => k.startsWith("chat-stream_stream-function"))}.function_name}`;
    expect(alarm(full, "chat-function-errors").dimensions.FunctionName).toBe(chat);
    expect(alarm(full, "stream-function-errors").dimensions.FunctionName).toBe(stream);
  });

  it("treats missing data as not breaching and notifies its topic when firing and when clear", () => {
    for (const a of resourcesOf(full, "aws_cloudwatch_metric_alarm")) {
      expect(a.treat_missing_data).toBe("notBreaching");
      expect(a.ok_actions).toEqual(a.alarm_actions);
      expect(a.alarm_actions).toHaveLength(1);
    }
  });

  it("keeps CloudFront and WAF alarms, and their topic, in us-east-1 where those metrics are", () => {
    for (const id of ["cloudfront-5xx-rate", "waf-blocked-requests"]) {
      expect(alarm(full, id)).toMatchObject({ provider: "aws.us_east_1", alarm_actions: [topicRef(full, "chatbot-dev-edge-alarms")] });
    }
    expect(topicOf(full, "chatbot-dev-edge-alarms")[1]).toMatchObject({ provider: "aws.us_east_1" });
    expect(alarm(full, "api-5xx-rate").provider).toBeUndefined();
    expect(alarm(full, "api-5xx-rate").alarm_actions).toEqual([topicRef(full, "chatbot-dev-alarms")]);
  });

  it("leaves SageMaker and WAF alarms out when there is no deployed model or WAF", () => {
    const names = resourcesOf(synthStack(environmentConfig({ waf: false })), "aws_cloudwatch_metric_alarm").map((a) => a.alarm_name);
    expect(names.filter((n) => /model-(5xx|latency)|waf/.test(n))).toEqual([]);
    expect(names).toContain("chatbot-dev-api-5xx-rate");
  });

  it.each([
    ["with a deployed model", full],
    ["without one (an existing endpoint the stack does not watch)", plain],
  ])("alarms on any answer that found the model not running, on either path, %s", (_name, json) => {
    const a = alarm(json, "model-not-running");
    expect(a).toMatchObject({ threshold: 1, comparison_operator: "GreaterThanOrEqualToThreshold", evaluation_periods: 1, treat_missing_data: "notBreaching" });
    expect(a.alarm_actions).toEqual([topicRef(json, "chatbot-dev-alarms")]);
    expect(a.metric_name).toBeUndefined();
    const [sum, ...inputs] = a.metric_query;
    expect(sum).toEqual({ id: "notrunning", expression: "FILL(m0, 0) + FILL(m1, 0)", label: "answers that found the model not running", return_data: true });
    expect(inputs.map((q: any) => q.metric.dimensions.FunctionName)).toEqual([
      expect.stringMatching(/^\$\{aws_lambda_function\.chat-function_[0-9A-F]{8}\.function_name\}$/),
      expect.stringMatching(/^\$\{aws_lambda_function\.chat-stream_stream-function_[0-9A-F]{8}\.function_name\}$/),
    ]);
    for (const q of inputs) {
      expect(q).toMatchObject({ return_data: false, metric: { namespace: "FalconChatbot", metric_name: "ModelNotRunning", period: 300, stat: "Sum" } });
    }
  });

  it("watches the one path there is when streaming is off", () => {
    const json = synthStack(environmentConfig({ streaming: false }));
    expect(alarm(json, "model-not-running").metric_query.map((q: any) => q.id)).toEqual(["notrunning", "m0"]);
    expect(alarm(json, "model-not-running").metric_query[0].expression).toBe("FILL(m0, 0)");
    expect(resourcesOf(json, "aws_cloudwatch_metric_alarm").map((a) => a.alarm_name)).not.toContain("chatbot-dev-stream-answers-5xx-rate");
  });
});

describe("AlarmTopic", () => {
  it("encrypts each topic with a customer-managed, rotated key (not alias/aws/sns, which breaks alarm actions)", () => {
    for (const topic of resourcesOf(full, "aws_sns_topic")) expect(topic.kms_master_key_id).toMatch(REF("aws_kms_key", "arn"));
    for (const key of resourcesOf(full, "aws_kms_key")) expect(key).toMatchObject({ enable_key_rotation: true, deletion_window_in_days: 7 });
    expect(JSON.stringify(full)).not.toContain("alias/aws/sns");
  });

  it("gives each key the policy AWS documents for CloudWatch alarms and Budgets on encrypted topics, without conditions those calls do not carry", () => {
    const keyPolicy = (json: StackJson, topic: string) => policy(resourcesOf(json, "aws_kms_key").find((k) => k.description === `Encrypts the ${topic} SNS topic`).policy);
    const admin = {
      Sid: "AccountAdministersTheKey",
      Effect: "Allow",
      Principal: { AWS: "arn:${data.aws_partition.partition.partition}:iam::${data.aws_caller_identity.caller.account_id}:root" },
      Action: ["kms:*"],
      Resource: ["*"],
    };
    const encryptFor = (sid: string, service: string) => ({ Sid: sid, Effect: "Allow", Principal: { Service: service }, Action: ["kms:Decrypt", "kms:GenerateDataKey*"], Resource: ["*"] });
    expect(keyPolicy(full, "chatbot-dev-alarms")).toEqual({
      Version: "2012-10-17",
      Statement: [admin, encryptFor("CloudWatchAlarmsEncryptForTheTopic", "cloudwatch.amazonaws.com"), encryptFor("BudgetsEncryptForTheTopic", "budgets.amazonaws.com")],
    });
    expect(keyPolicy(full, "chatbot-dev-edge-alarms")).toEqual({ Version: "2012-10-17", Statement: [admin, encryptFor("CloudWatchAlarmsEncryptForTheTopic", "cloudwatch.amazonaws.com")] });
    expect(keyPolicy(plain, "chatbot-dev-alarms")).toEqual({ Version: "2012-10-17", Statement: [admin, encryptFor("CloudWatchAlarmsEncryptForTheTopic", "cloudwatch.amazonaws.com")] });
  });

  it("lets only CloudWatch alarms (and Budgets, with a budget) of this account publish", () => {
    const topicPolicy = (json: StackJson, name: string) =>
      policy(resourcesOf(json, "aws_sns_topic_policy").find((p) => p.arn === topicRef(json, name)).policy).Statement;
    expect(topicPolicy(full, "chatbot-dev-alarms")).toEqual([
      {
        Sid: "CloudWatchAlarmsPublish",
        Effect: "Allow",
        Principal: { Service: "cloudwatch.amazonaws.com" },
        Action: ["sns:Publish"],
        Resource: [topicRef(full, "chatbot-dev-alarms")],
        Condition: {
          StringEquals: { "aws:SourceAccount": expect.stringMatching(/caller\.account_id/) },
          ArnLike: { "aws:SourceArn": expect.stringMatching(/^arn:\$\{data\.aws_partition\.partition\.partition\}:cloudwatch:ap-northeast-2:\$\{.*\}:alarm:\*$/) },
        },
      },
      expect.objectContaining({ Sid: "BudgetsPublish", Principal: { Service: "budgets.amazonaws.com" }, Action: ["sns:Publish"] }),
    ]);
    expect(topicPolicy(plain, "chatbot-dev-alarms").map((s) => s.Sid)).toEqual(["CloudWatchAlarmsPublish"]);
    expect(topicPolicy(full, "chatbot-dev-edge-alarms")[0].Condition.ArnLike["aws:SourceArn"]).toMatch(/:cloudwatch:us-east-1:/);
  });

  it("subscribes the alarm e-mail to both topics only when one is configured", () => {
    const subscriptions = resourcesOf(full, "aws_sns_topic_subscription");
    expect(subscriptions.map((s) => [s.protocol, s.endpoint]).sort()).toEqual([["email", "ops@example.com"], ["email", "ops@example.com"]]);
    expect(resourcesOf(plain, "aws_sns_topic_subscription")).toEqual([]);
  });
});

describe("ChatDashboard", () => {
  const dashboard = only(full, "aws_cloudwatch_dashboard");
  const body = JSON.parse(dashboard.dashboard_body);
  const metricWidgets = body.widgets.filter((w: any) => w.type === "metric");
  const lines = metricWidgets.flatMap((w: any) => w.properties.metrics.filter((m: any[]) => typeof m[0] === "string").map((m: any[]) => ({ widget: w.properties.title, m })));

  it("reads the request path left to right: edge, APIs, functions, model", () => {
    const columns = [...new Set(metricWidgets.filter((w: any) => w.y < 12).sort((a: any, b: any) => a.x - b.x).map((w: any) => w.properties.title.split(":")[0]))];
    expect(columns).toEqual(["Edge", "APIs", "Functions", "Model"]);
    expect(metricWidgets.every((w: any) => w.x + w.width <= 24)).toBe(true);
  });

  it("names every metric by the stack's own resources, never by hand-typed names", () => {
    const expected: Record<string, RegExp | string> = {
      DistributionId: REF("aws_cloudfront_distribution", "id"),
      Region: "Global",
      WebACL: REF("aws_wafv2_web_acl", "name"),
      Rule: "ALL",
      ApiName: REF("aws_api_gateway_rest_api", "name"),
      Stage: /^\$\{aws_(api_gateway_stage\.[\w-]+\.stage_name|apigatewayv2_stage\.[\w-]+\.name)\}$/,
      ApiId: REF("aws_apigatewayv2_api", "id"),
      FunctionName: REF("aws_lambda_function", "function_name"),
      Status: /^(400|429|500|502|503|504)$/,
      EndpointName: REF("aws_sagemaker_endpoint", "name"),
      VariantName: "AllTraffic",
    };
    for (const { m } of lines) {
      const dims = m.slice(2, -1);
      for (let i = 0; i < dims.length; i += 2) {
        const pattern = expected[dims[i]];
        expect({ dimension: dims[i], ok: pattern !== undefined && (typeof pattern === "string" ? dims[i + 1] === pattern : pattern.test(dims[i + 1])) }).toEqual({ dimension: dims[i], ok: true });
      }
    }
  });

  it("shows CloudFront and WAF metrics from us-east-1, the rest from the stack's region", () => {
    for (const { m } of lines) {
      expect({ metric: `${m[0]} ${m[1]}`, region: m[m.length - 1].region }).toEqual({ metric: `${m[0]} ${m[1]}`, region: ["AWS/CloudFront", "AWS/WAFV2"].includes(m[0]) ? "us-east-1" : "ap-northeast-2" });
    }
  });

  it("covers CloudFront, WAF, API traffic, errors and latency percentiles, functions and the model", () => {
    const shown = lines.map(({ m }: any) => `${m[0]} ${m[1]} ${m[m.length - 1].stat}`);
    expect(shown).toEqual(expect.arrayContaining([
      "AWS/CloudFront Requests Sum", "AWS/CloudFront 5xxErrorRate Average", "AWS/CloudFront 4xxErrorRate Average",
      "AWS/WAFV2 AllowedRequests Sum", "AWS/WAFV2 BlockedRequests Sum",
      "AWS/ApiGateway Count Sum", "AWS/ApiGateway 4XXError Sum", "AWS/ApiGateway 5XXError Sum",
      "AWS/ApiGateway Latency p50", "AWS/ApiGateway Latency p90", "AWS/ApiGateway Latency p99",
      "AWS/ApiGateway ConnectCount Sum", "AWS/ApiGateway MessageCount Sum",
      "AWS/Lambda Invocations Sum", "AWS/Lambda Errors Sum", "AWS/Lambda Duration p90", "AWS/Lambda ConcurrentExecutions Maximum",
      "AWS/SageMaker Invocations Sum", "AWS/SageMaker ModelLatency p90", "AWS/SageMaker InvocationsPerInstance Sum",
    ]));
    const model = metricWidgets.find((w: any) => w.properties.title.startsWith("Model: Invocations"));
    expect(model.properties.metrics).toContainEqual([{ expression: "m0 / m2", label: "instances (invocations / per instance)", id: "instances" }]);
  });

  it("has a row of the answers and failures both paths count themselves, by status, with time to first token (below the two rows of 7)", () => {
    const row = metricWidgets.filter((w: any) => w.y === 14).sort((a: any, b: any) => a.x - b.x);
    expect(row.map((w: any) => w.properties.title)).toEqual([
      "Answers: Answers and failures",
      "Answers: Failures by status",
      "Answers: Time to first token (ms) and generated tokens",
    ]);
    const shown = (w: any) => w.properties.metrics.map((m: any[]) => `${m[0]} ${m[1]} ${m.slice(2, -1).filter((_: unknown, i: number) => i % 2 === 0).join(",")} ${m[m.length - 1].stat} ${m[m.length - 1].label}`);
    expect(shown(row[0])).toEqual(expect.arrayContaining([
      "FalconChatbot Answers FunctionName Sum chat answers", "FalconChatbot Failures FunctionName Sum stream failures",
      "FalconChatbot ServerErrors FunctionName Sum stream 5xx", "FalconChatbot ModelNotRunning FunctionName Sum chat model not running (503)",
    ]));
    expect(shown(row[1])).toHaveLength(12);
    expect(shown(row[1])).toContain("FalconChatbot Failures FunctionName,Status Sum stream 503");
    expect(shown(row[2])).toEqual([
      "FalconChatbot TimeToFirstToken FunctionName p50 stream first token p50", "FalconChatbot TimeToFirstToken FunctionName p90 stream first token p90",
      "FalconChatbot GeneratedTokens FunctionName Sum chat generated tokens", "FalconChatbot GeneratedTokens FunctionName Sum stream generated tokens",
    ]);
    expect(row.map((w: any) => [w.x, w.width, w.height])).toEqual([[0, 8, 9], [8, 8, 9], [16, 8, 9]]);
    expect(body.widgets.find((w: any) => w.type === "log").y).toBe(23);
  });

  it("ends with the latest errors of both functions' logs", () => {
    const log = body.widgets.find((w: any) => w.type === "log");
    const groups = resourcesOf(full, "aws_lambda_function").filter((f) => !f.function_name.endsWith("-failed")).map((f) => f.logging_config.log_group);
    for (const group of groups) expect(log.properties.query).toContain(`SOURCE '${group}'`);
    expect(log.properties.query).toMatch(/filter level = 'ERROR' or status >= 500 \| sort @timestamp desc/);
  });

  it("leaves the model column out without a deployed model, and outputs the dashboard's address", () => {
    const plainBody = JSON.parse(only(plain, "aws_cloudwatch_dashboard").dashboard_body);
    expect(plainBody.widgets.some((w: any) => w.properties.title?.startsWith("Model"))).toBe(false);
    expect(plain.output!.DashboardUrl.value).toMatch(/^https:\/\/ap-northeast-2\.console\.aws\.amazon\.com\/cloudwatch\/home\?region=ap-northeast-2#dashboards\/dashboard\/\$\{aws_cloudwatch_dashboard\.[\w-]+\.dashboard_name\}$/);
    expect(only(plain, "aws_cloudwatch_dashboard").dashboard_name).toBe("chatbot-dev");
  });
});

describe("LogQueries", () => {
  it("saves the three first questions in a folder per environment, over the right log groups", () => {
    const queries = resourcesOf(full, "aws_cloudwatch_query_definition");
    expect(queries.map((q) => q.name).sort()).toEqual(["chatbot-dev/errors by status", "chatbot-dev/requests per minute", "chatbot-dev/slowest requests"]);
    const byName = Object.fromEntries(queries.map((q) => [q.name.split("/")[1], q]));
    // The chat, stream and (with sign-in) conversations functions.
    expect(byName["errors by status"].log_group_names).toEqual([1, 2, 3].map(() => expect.stringMatching(REF("aws_cloudwatch_log_group", "name"))));
    expect(byName["requests per minute"].log_group_names).toEqual([expect.stringMatching(/^\$\{aws_cloudwatch_log_group\.chat-api_access-log-group_[\w]+\.name\}$/)]);
    for (const [title, { query }] of Object.entries(QUERIES)) expect(byName[title].query_string).toBe(query);
  });
});

describe("tracing", () => {
  const traced = synthStack(environmentConfig({ tracing: true }));

  it("is off by default: no tracing config, no X-Ray permission, no stage tracing", () => {
    for (const fn of resourcesOf(plain, "aws_lambda_function")) expect(fn.tracing_config).toBeUndefined();
    expect(JSON.stringify(plain.resource.aws_iam_role_policy)).not.toContain("xray:");
    expect(only(plain, "aws_api_gateway_stage").xray_tracing_enabled).toBe(false);
  });

  it("traces both functions and the REST stage, with only X-Ray's two write calls", () => {
    // The failure notice makes one post to API Gateway: nothing worth a trace.
    for (const fn of resourcesOf(traced, "aws_lambda_function").filter((f) => !f.function_name.endsWith("-failed"))) expect(fn.tracing_config).toEqual({ mode: "Active" });
    expect(only(traced, "aws_api_gateway_stage").xray_tracing_enabled).toBe(true);
    for (const id of ["chat-function_role-policy", "stream-function_role-policy"]) {
      expect(policy(byId(traced, "aws_iam_role_policy", id).policy).Statement).toContainEqual({
        Sid: "SendTraces",
        Effect: "Allow",
        Action: ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
        Resource: ["*"],
      });
    }
    expect(only(traced, "aws_apigatewayv2_stage")).not.toHaveProperty("xray_tracing_enabled");
  });
});

describe("CostBudget", () => {
  it("is off unless budgetMonthlyUsd is set", () => {
    expect(resourcesOf(plain, "aws_budgets_budget")).toEqual([]);
  });

  it("budgets this environment's tagged monthly cost, telling the e-mail and the topic at 80% actual and 100% forecast", () => {
    const budget = only(full, "aws_budgets_budget");
    expect(budget).toMatchObject({
      name: "chatbot-dev-monthly-cost",
      budget_type: "COST",
      limit_amount: "1500.00",
      limit_unit: "USD",
      time_unit: "MONTHLY",
      cost_filter: [{ name: "TagKeyValue", values: ["user:Environment$dev"] }],
    });
    expect(budget.notification.map((n: any) => [n.notification_type, n.threshold, n.threshold_type, n.comparison_operator])).toEqual([
      ["ACTUAL", 80, "PERCENTAGE", "GREATER_THAN"],
      ["FORECASTED", 100, "PERCENTAGE", "GREATER_THAN"],
    ]);
    for (const n of budget.notification) {
      expect(n.subscriber_email_addresses).toEqual(["ops@example.com"]);
      expect(n.subscriber_sns_topic_arns).toEqual([topicRef(full, "chatbot-dev-alarms")]);
    }
  });
});
