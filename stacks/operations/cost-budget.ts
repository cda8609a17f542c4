import { BudgetsBudget } from "@cdktf/provider-aws/lib/budgets-budget";
import { Construct } from "constructs";

/** Options of {@link CostBudget}. */
export interface CostBudgetOptions {
  /** Budget name, e.g. `chatbot-dev-monthly-cost`. */
  readonly name: string;
  /** USD per month. */
  readonly monthlyUsd: number;
  /** Value of the `Environment` tag the stack puts on every resource. */
  readonly environment: string;
  /** Topic notified too (its policy must let Budgets publish). */
  readonly topicArn: string;
  /** E-mail address notified directly. @default none */
  readonly email?: string;
}

/**
 * A monthly cost budget over what carries this environment's `Environment` tag (activate
 * `Environment` as a cost allocation tag in Billing once). It notifies when actual spend
 * passes 80% and when the forecast passes 100%. Budget data lags by hours: a guard that
 * tells someone, not a brake that stops anything.
 */
export class CostBudget extends Construct {
  public readonly budget: BudgetsBudget;

  constructor(scope: Construct, id: string, options: CostBudgetOptions) {
    super(scope, id);
    const subscribers = {
      subscriberSnsTopicArns: [options.topicArn],
      subscriberEmailAddresses: options.email === undefined ? undefined : [options.email],
    };
    this.budget = new BudgetsBudget(this, "budget", {
      name: options.name,
      budgetType: "COST",
      limitAmount: options.monthlyUsd.toFixed(2),
      limitUnit: "USD",
      timeUnit: "MONTHLY",
      costFilter: [{ name: "TagKeyValue", values: [`user:Environment$${options.environment}`] }],
      notification: [
        { notificationType: "ACTUAL", comparisonOperator: "GREATER_THAN", threshold: 80, thresholdType: "PERCENTAGE", ...subscribers },
        { notificationType: "FORECASTED", comparisonOperator: "GREATER_THAN", threshold: 100, thresholdType: "PERCENTAGE", ...subscribers },
      ],
    });
  }
}
