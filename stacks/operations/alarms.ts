import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Construct } from "constructs";
import { ANSWER_NAMESPACE, Metric, Watched, answering, metrics } from "./watched";

/** Options of {@link ChatAlarms}. */
export interface ChatAlarmsOptions {
  readonly watched: Watched;
  /** Topic of the stack's region: alarms on the APIs, functions and model notify it. */
  readonly topicArn: string;
  /** Topic in us-east-1: alarms on CloudFront and WAF metrics (which live there) notify it. */
  readonly usEast1TopicArn: string;
  /** Provider for us-east-1. */
  readonly usEast1: AwsProvider;
}

/** One alarm: what it watches and when it fires, and what to tell the person who gets it. */
interface AlarmSpec {
  /** Name after `chatbot-<env>-`. */
  readonly id: string;
  readonly metric: Metric;
  /** "Sum", "Average", ... or a percentile such as "p90". */
  readonly statistic: string;
  readonly threshold: number;
  /** What it means and what to check first. */
  readonly description: string;
  /** Seconds per data point. @default 300 */
  readonly period?: number;
}

/**
 * The alarms of one environment. Every alarm treats missing data as not breaching (no
 * traffic is not an incident) and notifies its region's topic when it fires and when it
 * clears. Thresholds are in code with their reason.
 */
export class ChatAlarms extends Construct {
  public readonly alarms: readonly CloudwatchMetricAlarm[];

  constructor(scope: Construct, id: string, options: ChatAlarmsOptions) {
    super(scope, id);
    const w = options.watched;
    const specs: AlarmSpec[] = [
      {
        id: "cloudfront-5xx-rate",
        metric: metrics.cloudFront(w, "5xxErrorRate"),
        statistic: "Average",
        // CloudFront reports error rates in percent. 5%: more than a blip, well before "down".
        threshold: 5,
        description: "More than 5% of the site's requests answered 5xx for 5 minutes. Check the API alarms below first; if they are quiet, the origin path (S3, API Gateway) from CloudFront.",
      },
      {
        id: "api-5xx-rate",
        metric: metrics.restApi(w, "5XXError"),
        statistic: "Average",
        // 5XXError is 0 or 1 per request, so its average is the share of failed requests.
        threshold: 0.05,
        description: "More than 5% of POST /chat requests failed with 5xx for 5 minutes. Check the chat function's errors and the model alarms; the function log's status and reason fields say which step failed.",
      },
      {
        id: "api-latency-p90",
        metric: metrics.restApi(w, "Latency"),
        statistic: "p90",
        // API Gateway gives up at the integration timeout; warn at 85% of it, before users get 504s.
        threshold: Math.round(w.restApi.integrationTimeoutMs * 0.85),
        description: `One POST /chat in ten took longer than ${Math.round(w.restApi.integrationTimeoutMs * 0.85)} ms, close to the ${w.restApi.integrationTimeoutMs} ms integration timeout. Check the model's latency and instance count; long answers belong on the WebSocket.`,
      },
    ];
    for (const fn of w.functions) {
      // The functions' own count (observability/metrics.py): a streamed answer's failure is
      // an error frame, never a Lambda error, and a model outage would otherwise be silent.
      const answers = fn.answers ?? true;
      if (answers) specs.push({
        id: `${fn.label}-answers-5xx-rate`,
        metric: metrics.answers(w, fn, "ServerErrors"),
        statistic: "Average",
        // 1 per 5xx answer and 0 per other outcome, so the average is the share of 5xx answers.
        threshold: 0.05,
        description: `More than 5% of the ${fn.label} path's answers failed with 5xx for 5 minutes (counted by the function itself). Check the dashboard's failures by status, the model-not-running alarm and the function log's status and reason fields.`,
      });
      specs.push(
        {
          id: `${fn.label}-function-errors`,
          metric: metrics.lambda(w, fn, "Errors"),
          statistic: "Sum",
          // The REST handler raises to answer every error, 4xx included (non-proxy
          // integration), so a few errors are normal there; the stream handler never raises.
          threshold: fn.raisesClientErrors ? 10 : 1,
          description: fn.raisesClientErrors
            ? `The ${fn.label} function raised 10 or more errors in 5 minutes. Its handler raises for rejected requests too: check the log's status field (4xx: clients; 5xx: the model or the function).`
            : answers
              ? `The ${fn.label} function failed (crashed, timed out or is misconfigured). Its handler reports answer errors as frames, so this is a bug or a timeout: check its log.`
              : `The ${fn.label} function failed (crashed, timed out or is misconfigured). Its handler answers every error itself, so this is a bug or a timeout: check its log.`,
        },
        {
          id: `${fn.label}-function-throttles`,
          metric: metrics.lambda(w, fn, "Throttles"),
          statistic: "Sum",
          // Any throttle means a user got no answer.
          threshold: 1,
          description: `Lambda throttled the ${fn.label} function: the account's concurrency limit is reached. Check ConcurrentExecutions on the dashboard and the account's Lambda quota.`,
        },
        {
          id: `${fn.label}-function-duration-p90`,
          metric: metrics.lambda(w, fn, "Duration"),
          statistic: "p90",
          // At 80% of what its caller waits, the slowest answers are about to be cut off.
          threshold: Math.round(fn.budgetMs * 0.8),
          description:
            `One ${fn.label} invocation in ten ran longer than ${Math.round(fn.budgetMs * 0.8)} ms, 80% of the ${fn.budgetMs} ms it may take. ` +
            (answers ? "Check the model's latency first; raise lambdaTimeoutSeconds only if answers are legitimately that long." : "Check its log for slow DynamoDB calls and large deletes."),
        },
      );
    }
    if (w.model) {
      specs.push(
        {
          id: "model-5xx-errors",
          metric: metrics.model(w, "Invocation5XXErrors"),
          statistic: "Sum",
          threshold: 1,
          description: "The SageMaker endpoint answered 5xx: the model container failed. Check /aws/sagemaker/Endpoints/<endpoint> logs and the instance's GPU memory.",
        },
        {
          id: "model-latency-p90",
          metric: metrics.model(w, "ModelLatency"),
          statistic: "p90",
          // SageMaker reports ModelLatency in microseconds: 20 s.
          threshold: 20_000_000,
          description: "One model call in ten took over 20 s (ModelLatency is in microseconds). Check the instance count and concurrent requests: autoscaling may be at its maximum.",
        },
      );
    }
    if (w.webAclName) {
      specs.push({
        id: "waf-blocked-requests",
        metric: metrics.waf(w, "BlockedRequests"),
        statistic: "Sum",
        // Ten clients hitting the rate limit for a full window; more is an attack or a misbehaving client.
        threshold: 500,
        description: "The WAF blocked 500 or more requests in 5 minutes. Check its sampled requests (console, WAF web ACL) for the rule and the addresses; tighten allowedIpRanges or the rate limit if it is abuse.",
      });
    }

    const alarms = specs.map((spec) => {
      const inUsEast1 = spec.metric.region === "us-east-1";
      const topic = inUsEast1 ? options.usEast1TopicArn : options.topicArn;
      const percentile = /^p\d+(\.\d+)?$/.test(spec.statistic);
      return new CloudwatchMetricAlarm(this, spec.id, {
        // The stack's own provider when its region is us-east-1 anyway.
        provider: inUsEast1 && w.region !== "us-east-1" ? options.usEast1 : undefined,
        alarmName: `chatbot-${w.environment}-${spec.id}`,
        alarmDescription: spec.description,
        namespace: spec.metric.namespace,
        metricName: spec.metric.name,
        dimensions: { ...spec.metric.dimensions },
        statistic: percentile ? undefined : spec.statistic,
        extendedStatistic: percentile ? spec.statistic : undefined,
        period: spec.period ?? 300,
        evaluationPeriods: 1,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        threshold: spec.threshold,
        treatMissingData: "notBreaching",
        alarmActions: [topic],
        okActions: [topic],
      });
    });

    // Any answer on either path that found the model not running (503): the endpoint is
    // missing, starting or switched off. Counted by the functions, so it works whether or
    // not this stack deploys the model (without modelDeploy there is no SageMaker alarm).
    const notRunning = answering(w.functions).map((fn, i) => ({
      id: `m${i}`,
      returnData: false,
      metric: { namespace: ANSWER_NAMESPACE, metricName: "ModelNotRunning", dimensions: { FunctionName: fn.functionName }, period: 300, stat: "Sum" },
    }));
    alarms.push(
      new CloudwatchMetricAlarm(this, "model-not-running", {
        alarmName: `chatbot-${w.environment}-model-not-running`,
        alarmDescription:
          "An answer found the model not running (HTTP 503 or an error frame 503) in the last 5 minutes. Check the SageMaker endpoint's status (missing, Creating, Failed, OutOfService) and, with modelDeploy, its deployment; endpointName must name a running endpoint.",
        // A missing path counts as 0, so one path's silence never hides the other's 503s.
        metricQuery: [
          { id: "notrunning", expression: notRunning.map((q) => `FILL(${q.id}, 0)`).join(" + "), label: "answers that found the model not running", returnData: true },
          ...notRunning,
        ],
        evaluationPeriods: 1,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        threshold: 1,
        treatMissingData: "notBreaching",
        alarmActions: [options.topicArn],
        okActions: [options.topicArn],
      }),
    );
    this.alarms = alarms;
  }
}
