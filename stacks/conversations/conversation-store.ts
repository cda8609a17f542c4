import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { Construct } from "constructs";

/** The local secondary index that lists a person's conversations by when they were last updated. */
export const BY_UPDATED_INDEX = "by-updated";
/** The TTL attribute (epoch seconds) of every item when retention is on. */
export const EXPIRES_AT = "expires_at";

/** Options of {@link ConversationStore}. */
export interface ConversationStoreOptions {
  /** Prefix of the table name (environment suffix included), e.g. `chatbot-dev`. */
  readonly namePrefix: string;
  /** Days a message is kept (the functions set `expires_at`); 0 keeps everything and leaves TTL off. @default 0 */
  readonly retentionDays?: number;
  /** Refuse `terraform destroy` and DeleteTable (people's chats cannot be restored otherwise). @default false */
  readonly deletionProtection?: boolean;
}

/**
 * Every signed-in person's saved conversations, one table (docs/conversations.md):
 *
 * - Hash key `user_id`: the ID token's `sub` from the authorizer's claims. Every key the
 *   functions build starts there (lambda-chat/conversations/keys.py), so a person's items
 *   are reached only through that person's own partition.
 * - Range key `item_key`: `c#<id>` for a conversation's small item (title, times, message
 *   count), `m#<id>#<turn>#<0|1>` for each message: never a whole history in one item
 *   (DynamoDB's 400 KB item limit).
 * - LSI `by-updated` on `updated_key`, which only conversation items carry: a sparse index
 *   listing one partition newest first, strongly consistent. An LSI caps an item collection
 *   (one `user_id`) at 10 GB ("Item collection size limit",
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/LSI.html).
 * - On demand, point-in-time recovery, and TTL on `expires_at` only with a retention.
 */
export class ConversationStore extends Construct {
  public readonly table: DynamodbTable;
  /** ARN of the `by-updated` index: a Query on an index is authorized on the index's own ARN. */
  public readonly indexArn: string;

  constructor(scope: Construct, id: string, options: ConversationStoreOptions) {
    super(scope, id);
    const retentionDays = options.retentionDays ?? 0;
    this.table = new DynamodbTable(this, "table", {
      name: `${options.namePrefix}-conversations`,
      billingMode: "PAY_PER_REQUEST",
      hashKey: "user_id",
      rangeKey: "item_key",
      attribute: [
        { name: "user_id", type: "S" },
        { name: "item_key", type: "S" },
        { name: "updated_key", type: "S" },
      ],
      localSecondaryIndex: [{ name: BY_UPDATED_INDEX, rangeKey: "updated_key", projectionType: "ALL" }],
      // People's chats: a bad deploy or a wrong delete can be rolled back to any second of the last 35 days.
      pointInTimeRecovery: { enabled: true },
      deletionProtectionEnabled: options.deletionProtection ?? false,
      // No server_side_encryption block, as the sign-in tables: DynamoDB encrypts every table
      // at rest, with an AWS owned key unless told otherwise, at no charge
      // (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/EncryptionAtRest.html).
      //
      // TTL off is written out (enabled false) rather than left out: the provider then turns
      // TTL off when a retention is removed, where an absent block would leave it running. It
      // calls UpdateTimeToLive on create only when enabled, and AWS needs the attribute name
      // to disable TTL (terraform-provider-aws internal/service/dynamodb/table.go).
      ttl: { attributeName: EXPIRES_AT, enabled: retentionDays > 0 },
    });
    this.indexArn = `${this.table.arn}/index/${BY_UPDATED_INDEX}`;
  }
}
