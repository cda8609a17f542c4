import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import type { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicPolicy } from "@cdktf/provider-aws/lib/sns-topic-policy";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { Construct } from "constructs";
import { PolicyStatement, policyDocument } from "../iam";

/** Options of {@link AlarmTopic}. */
export interface AlarmTopicOptions {
  /** Topic name, e.g. `chatbot-dev-alarms`. */
  readonly name: string;
  /** Region of the topic (alarms can notify only a topic of their own region). */
  readonly region: string;
  readonly partition: string;
  readonly accountId: string;
  /** Provider of that region. @default the stack's default provider */
  readonly provider?: AwsProvider;
  /** Also let AWS Budgets publish (budgets are global and may notify any topic). @default false */
  readonly allowBudgets?: boolean;
  /** E-mail address subscribed to the topic (AWS sends it a confirmation first). @default none */
  readonly email?: string;
}

/**
 * Where alarms go: an SNS topic encrypted with a customer-managed KMS key. The AWS-managed
 * `alias/aws/sns` key would silently break alarm actions: CloudWatch cannot use it. This
 * key's policy lets CloudWatch (and Budgets) encrypt for the topic, as AWS documents it;
 * the topic's policy lets only they publish, and only for this account.
 */
export class AlarmTopic extends Construct {
  public readonly topic: SnsTopic;
  public readonly key: KmsKey;

  constructor(scope: Construct, id: string, options: AlarmTopicOptions) {
    super(scope, id);
    const { partition, accountId, provider } = options;
    const publishers = [{ service: "cloudwatch.amazonaws.com", source: `arn:${partition}:cloudwatch:${options.region}:${accountId}:alarm:*`, sid: "CloudWatchAlarms" }];
    if (options.allowBudgets) publishers.push({ service: "budgets.amazonaws.com", source: `arn:${partition}:budgets::${accountId}:*`, sid: "Budgets" });

    this.key = new KmsKey(this, "key", {
      provider,
      description: `Encrypts the ${options.name} SNS topic`,
      enableKeyRotation: true,
      deletionWindowInDays: 7,
      policy: policyDocument([
        {
          // KMS's default statement: without it no one in the account could manage the key.
          Sid: "AccountAdministersTheKey",
          Effect: "Allow",
          Principal: { AWS: `arn:${partition}:iam::${accountId}:root` },
          Action: ["kms:*"],
          Resource: ["*"],
        },
        // The statements AWS documents for a service publishing to an encrypted topic: the
        // service principal, these two actions, no condition. SNS asks KMS for the data key
        // on the service's behalf, and AWS documents no aws:SourceAccount / aws:SourceArn on
        // those calls; a condition on a key the request does not carry would drop every
        // notification silently. The topic policy below keeps the account check.
        //   CloudWatch alarms: https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
        //     (and https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html)
        //   Budgets: https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html
        ...publishers.map(
          ({ service, sid }): PolicyStatement => ({
            Sid: `${sid}EncryptForTheTopic`,
            Effect: "Allow",
            Principal: { Service: service },
            Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
            Resource: ["*"],
          }),
        ),
      ]),
    });
    new KmsAlias(this, "key-alias", { provider, name: `alias/${options.name}`, targetKeyId: this.key.keyId });

    this.topic = new SnsTopic(this, "topic", { provider, name: options.name, kmsMasterKeyId: this.key.arn });
    new SnsTopicPolicy(this, "topic-policy", {
      provider,
      arn: this.topic.arn,
      policy: policyDocument(
        publishers.map(({ service, source, sid }) => ({
          Sid: `${sid}Publish`,
          Effect: "Allow",
          Principal: { Service: service },
          Action: ["sns:Publish"],
          Resource: [this.topic.arn],
          Condition: { StringEquals: { "aws:SourceAccount": accountId }, ArnLike: { "aws:SourceArn": source } },
        })),
      ),
    });
    if (options.email !== undefined) {
      new SnsTopicSubscription(this, "email", { provider, topicArn: this.topic.arn, protocol: "email", endpoint: options.email });
    }
  }
}
