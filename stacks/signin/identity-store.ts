import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { Construct } from "constructs";

/** Options of {@link IdentityStore}. */
export interface IdentityStoreOptions {
  /** Prefix of the table names (environment suffix included), e.g. `chatbot-dev`. */
  readonly namePrefix: string;
  /** Keep WebSocket tickets (streaming is on). @default true */
  readonly tickets?: boolean;
}

/**
 * What the chat functions keep per signed-in person (lambda-chat/identity/):
 *
 * - `tickets`: single-use WebSocket tickets. Key `ticket_hash` (SHA-256 of the ticket:
 *   whoever reads the table cannot connect with what is stored), TTL `expires_at`.
 * - `daily-usage`: answers per person per UTC day. Key `user_id` (the token's `sub`) and
 *   `day` (YYYY-MM-DD): DynamoDB's TTL deletes lazily, so the day must be in the key.
 *   TTL `expires_at` a few days later.
 */
export class IdentityStore extends Construct {
  /** Present when streaming is on. */
  public readonly tickets?: DynamodbTable;
  public readonly usage: DynamodbTable;

  constructor(scope: Construct, id: string, options: IdentityStoreOptions) {
    super(scope, id);
    if (options.tickets ?? true) this.tickets = new DynamodbTable(this, "tickets-table", {
      name: `${options.namePrefix}-tickets`,
      billingMode: "PAY_PER_REQUEST",
      hashKey: "ticket_hash",
      attribute: [{ name: "ticket_hash", type: "S" }],
      ttl: { attributeName: "expires_at", enabled: true },
    });
    this.usage = new DynamodbTable(this, "usage-table", {
      name: `${options.namePrefix}-daily-usage`,
      billingMode: "PAY_PER_REQUEST",
      hashKey: "user_id",
      rangeKey: "day",
      attribute: [
        { name: "user_id", type: "S" },
        { name: "day", type: "S" },
      ],
      ttl: { attributeName: "expires_at", enabled: true },
    });
  }
}
