/**
 * What the operations constructs watch, named by the resources' own attributes (Terraform
 * references), and the CloudWatch metrics each part of the request path publishes.
 */

/** One chat function. */
export interface WatchedFunction {
  /** Short label for titles, e.g. "chat" or "stream". */
  readonly label: string;
  readonly functionName: string;
  readonly logGroupName: string;
  /** How long it may run before its caller gives up, in ms (alarms warn at 80%). */
  readonly budgetMs: number;
  /** Whether its handler raises for client errors (the REST non-proxy integration's way of answering 4xx). */
  readonly raisesClientErrors: boolean;
  /** Whether it streams answers (and so reports TimeToFirstToken). @default false */
  readonly streams?: boolean;
  /** Whether it answers chat questions and counts them (observability/metrics.py); the conversations function does not. @default true */
  readonly answers?: boolean;
}

/** The functions that answer questions (and so write the answer metrics). */
export function answering(functions: readonly WatchedFunction[]): WatchedFunction[] {
  return functions.filter((fn) => fn.answers ?? true);
}

/** Everything on the request path, from the edge to the model. */
export interface Watched {
  /** Environment name, e.g. `dev` (prefix of alarm and dashboard names). */
  readonly environment: string;
  /** Region of the APIs, functions and model. */
  readonly region: string;
  readonly distributionId: string;
  /** Name of the WAF web ACL, when there is one. */
  readonly webAclName?: string;
  readonly restApi: { readonly name: string; readonly stage: string; readonly integrationTimeoutMs: number; readonly accessLogGroupName: string };
  readonly websocket?: { readonly apiId: string; readonly stage: string };
  readonly functions: readonly WatchedFunction[];
  readonly model?: { readonly endpointName: string; readonly variantName: string };
}

/** A CloudWatch metric: namespace, name and dimensions (in the order the console lists them). */
export interface Metric {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /** Region of the metric. CloudFront's and CLOUDFRONT-scope WAF's are in us-east-1. */
  readonly region: string;
}

/**
 * Namespace of the metrics the chat functions write themselves (one embedded-metric-format
 * line per answer or failure: lambda-chat/observability/metrics.py), with the dimension
 * FunctionName (and FunctionName + Status for Failures).
 */
export const ANSWER_NAMESPACE = "FalconChatbot";

/** The HTTP statuses an answer can fail with, each a `Status` dimension value of `Failures`. */
export const FAILURE_STATUSES = ["400", "429", "500", "502", "503", "504"] as const;

export const metrics = {
  cloudFront: (w: Watched, name: string): Metric => ({ namespace: "AWS/CloudFront", name, dimensions: { DistributionId: w.distributionId, Region: "Global" }, region: "us-east-1" }),
  waf: (w: Watched, name: string): Metric => ({ namespace: "AWS/WAFV2", name, dimensions: { WebACL: w.webAclName ?? "", Rule: "ALL" }, region: "us-east-1" }),
  restApi: (w: Watched, name: string): Metric => ({ namespace: "AWS/ApiGateway", name, dimensions: { ApiName: w.restApi.name, Stage: w.restApi.stage }, region: w.region }),
  websocket: (w: Watched, name: string): Metric => ({ namespace: "AWS/ApiGateway", name, dimensions: { ApiId: w.websocket?.apiId ?? "", Stage: w.websocket?.stage ?? "" }, region: w.region }),
  lambda: (w: Watched, fn: WatchedFunction, name: string): Metric => ({ namespace: "AWS/Lambda", name, dimensions: { FunctionName: fn.functionName }, region: w.region }),
  /** Answers, Failures, ServerErrors, ModelNotRunning, TimeToFirstToken, GeneratedTokens of one path. */
  answers: (w: Watched, fn: WatchedFunction, name: string): Metric => ({ namespace: ANSWER_NAMESPACE, name, dimensions: { FunctionName: fn.functionName }, region: w.region }),
  failures: (w: Watched, fn: WatchedFunction, status: string): Metric => ({
    namespace: ANSWER_NAMESPACE,
    name: "Failures",
    dimensions: { FunctionName: fn.functionName, Status: status },
    region: w.region,
  }),
  model: (w: Watched, name: string): Metric => ({
    namespace: "AWS/SageMaker",
    name,
    dimensions: { EndpointName: w.model?.endpointName ?? "", VariantName: w.model?.variantName ?? "" },
    region: w.region,
  }),
};
