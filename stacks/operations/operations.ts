import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Construct } from "constructs";
import { AlarmTopic } from "./alarm-topic";
import { ChatAlarms } from "./alarms";
import { CostBudget } from "./cost-budget";
import { ChatDashboard } from "./dashboard";
import { LogQueries } from "./log-queries";
import type { Watched } from "./watched";

/** Options of {@link Operations}. */
export interface OperationsOptions {
  /** The request path to watch. */
  readonly watched: Watched;
  readonly partition: string;
  readonly accountId: string;
  /** Provider for us-east-1, where CloudFront's and the WAF's metrics (and so their alarms) are. */
  readonly usEast1: AwsProvider;
  /** Subscribed to both alarm topics and told about the budget. @default none */
  readonly alarmEmail?: string;
  /** Monthly cost budget in USD. @default none: no budget */
  readonly budgetMonthlyUsd?: number;
}

/**
 * Seeing the chatbot and guarding its cost: alarms and the topics they notify (one in the
 * stack's region, one in us-east-1), one dashboard, saved log queries, and a budget.
 */
export class Operations extends Construct {
  public readonly topic: AlarmTopic;
  public readonly usEast1Topic: AlarmTopic;
  public readonly alarms: ChatAlarms;
  public readonly dashboard: ChatDashboard;
  public readonly budget?: CostBudget;
  /** Console address of the dashboard. */
  public readonly dashboardUrl: string;

  constructor(scope: Construct, id: string, options: OperationsOptions) {
    super(scope, id);
    const w = options.watched;
    const name = `chatbot-${w.environment}`;
    const common = { partition: options.partition, accountId: options.accountId, email: options.alarmEmail };

    this.topic = new AlarmTopic(this, "alarm-topic", { ...common, name: `${name}-alarms`, region: w.region, allowBudgets: options.budgetMonthlyUsd !== undefined });
    this.usEast1Topic = new AlarmTopic(this, "alarm-topic-us-east-1", { ...common, name: `${name}-edge-alarms`, region: "us-east-1", provider: options.usEast1 });
    this.alarms = new ChatAlarms(this, "alarms", { watched: w, topicArn: this.topic.topic.arn, usEast1TopicArn: this.usEast1Topic.topic.arn, usEast1: options.usEast1 });
    this.dashboard = new ChatDashboard(this, "dashboard", { name, watched: w });
    new LogQueries(this, "log-queries", {
      folder: name,
      functionLogGroups: w.functions.map((fn) => fn.logGroupName),
      apiAccessLogGroup: w.restApi.accessLogGroupName,
    });
    if (options.budgetMonthlyUsd !== undefined) {
      this.budget = new CostBudget(this, "cost-budget", {
        name: `${name}-monthly-cost`,
        monthlyUsd: options.budgetMonthlyUsd,
        environment: w.environment,
        topicArn: this.topic.topic.arn,
        email: options.alarmEmail,
      });
    }
    this.dashboardUrl = `https://${w.region}.console.aws.amazon.com/cloudwatch/home?region=${w.region}#dashboards/dashboard/${this.dashboard.dashboard.dashboardName}`;
  }
}
