import { CloudwatchQueryDefinition } from "@cdktf/provider-aws/lib/cloudwatch-query-definition";
import { Construct } from "constructs";

/** Options of {@link LogQueries}. */
export interface LogQueriesOptions {
  /** Folder the queries appear in (CloudWatch Logs Insights, "Saved queries"), e.g. `chatbot-dev`. */
  readonly folder: string;
  /** The functions' log groups (their JSON lines carry status, reason and timings). */
  readonly functionLogGroups: readonly string[];
  /** The REST API's access log group (JSON: status, integrationLatency, ...). */
  readonly apiAccessLogGroup: string;
}

/** The saved Logs Insights queries for the questions people ask first. */
export const QUERIES: Readonly<Record<string, { readonly source: "functions" | "api"; readonly query: string }>> = {
  "errors by status": {
    source: "functions",
    query: "fields status, reason | filter ispresent(status) | stats count(*) as requests by status, reason | sort requests desc",
  },
  "slowest requests": {
    source: "functions",
    query: "fields @timestamp, requestId, elapsed_ms, model_ms, status | filter ispresent(elapsed_ms) | sort elapsed_ms desc | limit 25",
  },
  "requests per minute": {
    source: "api",
    query: "fields @timestamp | stats count(*) as requests by bin(1m)",
  },
};

/** Saved CloudWatch Logs Insights queries, in a folder per environment. */
export class LogQueries extends Construct {
  constructor(scope: Construct, id: string, options: LogQueriesOptions) {
    super(scope, id);
    for (const [title, { source, query }] of Object.entries(QUERIES)) {
      new CloudwatchQueryDefinition(this, title.replace(/ /g, "-"), {
        name: `${options.folder}/${title}`,
        logGroupNames: source === "functions" ? [...options.functionLogGroups] : [options.apiAccessLogGroup],
        queryString: query,
      });
    }
  }
}
