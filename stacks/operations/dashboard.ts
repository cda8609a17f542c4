import { CloudwatchDashboard } from "@cdktf/provider-aws/lib/cloudwatch-dashboard";
import { Construct } from "constructs";
import { FAILURE_STATUSES, Metric, Watched, answering, metrics } from "./watched";

/** Options of {@link ChatDashboard}. */
export interface ChatDashboardOptions {
  /** Dashboard name, e.g. `chatbot-dev`. */
  readonly name: string;
  readonly watched: Watched;
}

/** One line of a graph: a metric, its statistic and label; a hidden one only feeds an expression. */
interface Line {
  readonly metric: Metric;
  readonly stat: string;
  readonly label: string;
  readonly hidden?: boolean;
}

/** A metric math line over a graph's lines, which are named m0, m1, ... in order. */
interface Expression {
  readonly expression: string;
  readonly label: string;
  readonly id: string;
}

/** One graph of a column. */
interface Graph {
  readonly title: string;
  readonly lines: readonly Line[];
  readonly expressions?: readonly Expression[];
}

/** A CloudWatch dashboard widget, as the dashboard body JSON describes it. */
export interface Widget {
  readonly type: "metric" | "log" | "text";
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly properties: Record<string, unknown>;
}

const COLUMN_WIDTH = 6;
const ROW_HEIGHT = 7; // six lines (three functions, two metrics each) with their metric names
const ANSWERS_ROW_HEIGHT = 9;

/**
 * One dashboard per environment that reads the request path from left to right: the edge
 * (CloudFront, WAF), the APIs, the functions, the model; one row per question (traffic,
 * errors, latency, capacity); a row of the answers and failures the functions count
 * themselves, on both paths; and the latest function errors at the bottom. Every metric
 * is named by the resources' own attributes.
 */
export class ChatDashboard extends Construct {
  public readonly dashboard: CloudwatchDashboard;
  /** The widgets, for tests and the layout picture (scripts/render-dashboard.ts). */
  public readonly widgets: readonly Widget[];

  constructor(scope: Construct, id: string, options: ChatDashboardOptions) {
    super(scope, id);
    const w = options.watched;
    const columns: { title: string; graphs: Graph[] }[] = [];

    const edgeTraffic: Line[] = [{ metric: metrics.cloudFront(w, "Requests"), stat: "Sum", label: "CloudFront requests" }];
    if (w.webAclName) {
      edgeTraffic.push(
        { metric: metrics.waf(w, "AllowedRequests"), stat: "Sum", label: "WAF allowed" },
        { metric: metrics.waf(w, "BlockedRequests"), stat: "Sum", label: "WAF blocked" },
      );
    }
    columns.push({
      title: "Edge",
      graphs: [
        { title: "CloudFront requests and WAF", lines: edgeTraffic },
        {
          title: "CloudFront error rates (%)",
          lines: [
            { metric: metrics.cloudFront(w, "4xxErrorRate"), stat: "Average", label: "4xx %" },
            { metric: metrics.cloudFront(w, "5xxErrorRate"), stat: "Average", label: "5xx %" },
          ],
        },
      ],
    });

    const apiTraffic: Line[] = [
      { metric: metrics.restApi(w, "Count"), stat: "Sum", label: "POST /chat" },
      { metric: metrics.restApi(w, "4XXError"), stat: "Sum", label: "4XX" },
      { metric: metrics.restApi(w, "5XXError"), stat: "Sum", label: "5XX" },
    ];
    if (w.websocket) {
      apiTraffic.push(
        { metric: metrics.websocket(w, "ConnectCount"), stat: "Sum", label: "WebSocket connects" },
        { metric: metrics.websocket(w, "MessageCount"), stat: "Sum", label: "WebSocket messages" },
        { metric: metrics.websocket(w, "ExecutionError"), stat: "Sum", label: "WebSocket errors" },
      );
    }
    columns.push({
      title: "APIs",
      graphs: [
        { title: "Requests and errors", lines: apiTraffic },
        { title: "POST /chat latency (ms)", lines: ["p50", "p90", "p99"].map((stat) => ({ metric: metrics.restApi(w, "Latency"), stat, label: stat })) },
      ],
    });

    columns.push({
      title: "Functions",
      graphs: [
        {
          title: "Invocations and errors",
          lines: w.functions.flatMap((fn) => [
            { metric: metrics.lambda(w, fn, "Invocations"), stat: "Sum", label: `${fn.label} invocations` },
            { metric: metrics.lambda(w, fn, "Errors"), stat: "Sum", label: `${fn.label} errors` },
          ]),
        },
        {
          title: "Duration p90 (ms) and concurrency",
          lines: w.functions.flatMap((fn) => [
            { metric: metrics.lambda(w, fn, "Duration"), stat: "p90", label: `${fn.label} p90` },
            { metric: metrics.lambda(w, fn, "ConcurrentExecutions"), stat: "Maximum", label: `${fn.label} concurrency` },
          ]),
        },
      ],
    });

    if (w.model) {
      columns.push({
        title: "Model",
        graphs: [
          {
            title: "Invocations and instances",
            lines: [
              { metric: metrics.model(w, "Invocations"), stat: "Sum", label: "invocations" },
              { metric: metrics.model(w, "Invocation5XXErrors"), stat: "Sum", label: "5XX" },
              { metric: metrics.model(w, "InvocationsPerInstance"), stat: "Sum", label: "invocations per instance", hidden: true },
            ],
            // SageMaker publishes no instance count; invocations over invocations per instance is it.
            expressions: [{ expression: "m0 / m2", label: "instances (invocations / per instance)", id: "instances" }],
          },
          { title: "Model latency (µs)", lines: ["p50", "p90"].map((stat) => ({ metric: metrics.model(w, "ModelLatency"), stat, label: stat })) },
        ],
      });
    }

    // A row of what the functions count themselves (one line per answer or failure), for
    // both paths: the only view of streamed answers' failures, which are frames, not errors.
    const answerGraphs: Graph[] = [
      {
        title: "Answers and failures",
        lines: answering(w.functions).flatMap((fn) => [
          { metric: metrics.answers(w, fn, "Answers"), stat: "Sum", label: `${fn.label} answers` },
          { metric: metrics.answers(w, fn, "Failures"), stat: "Sum", label: `${fn.label} failures` },
          { metric: metrics.answers(w, fn, "ServerErrors"), stat: "Sum", label: `${fn.label} 5xx` },
          { metric: metrics.answers(w, fn, "ModelNotRunning"), stat: "Sum", label: `${fn.label} model not running (503)` },
        ]),
      },
      {
        title: "Failures by status",
        lines: answering(w.functions).flatMap((fn) => FAILURE_STATUSES.map((status) => ({ metric: metrics.failures(w, fn, status), stat: "Sum", label: `${fn.label} ${status}` }))),
      },
      {
        title: "Time to first token (ms) and generated tokens",
        lines: [
          ...answering(w.functions)
            .filter((fn) => fn.streams)
            .flatMap((fn) => ["p50", "p90"].map((stat) => ({ metric: metrics.answers(w, fn, "TimeToFirstToken"), stat, label: `${fn.label} first token ${stat}` }))),
          ...answering(w.functions).map((fn) => ({ metric: metrics.answers(w, fn, "GeneratedTokens"), stat: "Sum", label: `${fn.label} generated tokens` })),
        ],
      },
    ];

    const widgets: Widget[] = [];
    columns.forEach((column, index) => {
      column.graphs.forEach((graph, row) => widgets.push(metricWidget(`${column.title}: ${graph.title}`, graph, index * COLUMN_WIDTH, row * ROW_HEIGHT, w.region)));
    });
    // A third of the width each and taller: up to twelve lines (two paths, six statuses).
    const answersSize = { width: 24 / answerGraphs.length, height: ANSWERS_ROW_HEIGHT };
    answerGraphs.forEach((graph, index) => widgets.push(metricWidget(`Answers: ${graph.title}`, graph, index * answersSize.width, 2 * ROW_HEIGHT, w.region, answersSize)));
    widgets.push({
      type: "log",
      x: 0,
      y: 2 * ROW_HEIGHT + ANSWERS_ROW_HEIGHT,
      width: 24,
      height: ROW_HEIGHT,
      properties: {
        title: "Latest function errors",
        region: w.region,
        view: "table",
        // A dashboard log widget names its log groups as SOURCE commands ahead of the query.
        query: [
          ...w.functions.map((fn) => `SOURCE '${fn.logGroupName}'`),
          "fields @timestamp, @log, status, reason, requestId",
          "filter level = 'ERROR' or status >= 500",
          "sort @timestamp desc",
          "limit 20",
        ].join(" | "),
      },
    });
    this.widgets = widgets;

    this.dashboard = new CloudwatchDashboard(this, "dashboard", {
      dashboardName: options.name,
      // Plain JSON with Terraform references inside, so a plan shows the dashboard readably.
      dashboardBody: JSON.stringify({ widgets }),
    });
  }
}

function metricWidget(title: string, graph: Graph, x: number, y: number, region: string, size = { width: COLUMN_WIDTH, height: ROW_HEIGHT }): Widget {
  const metricsArray: unknown[][] = graph.lines.map((line, i) => [
    line.metric.namespace,
    line.metric.name,
    ...Object.entries(line.metric.dimensions).flat(),
    { stat: line.stat, label: line.label, region: line.metric.region, id: `m${i}`, ...(line.hidden ? { visible: false } : {}) },
  ]);
  for (const expression of graph.expressions ?? []) metricsArray.push([{ ...expression }]);
  return {
    type: "metric",
    x,
    y,
    width: size.width,
    height: size.height,
    properties: { title, region, view: "timeSeries", stacked: false, period: 300, metrics: metricsArray },
  };
}
