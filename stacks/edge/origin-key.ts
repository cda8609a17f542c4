import { ApiGatewayApiKey } from "@cdktf/provider-aws/lib/api-gateway-api-key";
import { ApiGatewayUsagePlan, ApiGatewayUsagePlanApiStages } from "@cdktf/provider-aws/lib/api-gateway-usage-plan";
import { ApiGatewayUsagePlanKey } from "@cdktf/provider-aws/lib/api-gateway-usage-plan-key";
import { Construct } from "constructs";

/** Options of {@link OriginKey}. */
export interface OriginKeyOptions {
  /** Name of the key and the usage plan, e.g. `chatbot-dev-cloudfront`. */
  readonly name: string;
  /** API stages the key opens (the REST stage and the WebSocket stage); use the stages' own attributes so they exist first. */
  readonly stages: readonly ApiGatewayUsagePlanApiStages[];
  /** Requests per day over all clients (a WebSocket counts its connections); 0: no quota. @default 10000 */
  readonly dailyQuota?: number;
  /** Steady-state requests per second over all clients. @default 10 */
  readonly rateLimit?: number;
  /** Burst over all clients. @default 20 */
  readonly burstLimit?: number;
}

/** The header CloudFront adds to every request to an API origin. API Gateway reads keys from it. */
export const API_KEY_HEADER = "x-api-key";

/**
 * The APIs answer only requests that came through the distribution: their methods (and the
 * WebSocket's `$connect`) require an API key, and only CloudFront knows it, adding it as
 * an origin header. AWS generates the key's value; it appears in Terraform state (keep
 * state encrypted) but never in code or the synthesized JSON. The usage plan binding it
 * to the stages also sets the request ceiling. AWS calls usage-plan throttling and quotas
 * best effort: a guard against runaway use, not a billing limit.
 *
 * Rotation: `terraform apply -replace=<this key's address>` creates a new key, attaches it,
 * switches CloudFront's header (the apply waits for the distribution to deploy), and only
 * then deletes the old key (create_before_destroy).
 */
export class OriginKey extends Construct {
  public readonly apiKey: ApiGatewayApiKey;
  public readonly usagePlan: ApiGatewayUsagePlan;
  /** The key's value, as a Terraform reference (sensitive). */
  public readonly value: string;

  constructor(scope: Construct, id: string, options: OriginKeyOptions) {
    super(scope, id);
    const dailyQuota = options.dailyQuota ?? 10_000;

    this.apiKey = new ApiGatewayApiKey(this, "api-key", {
      name: options.name,
      description: "Sent by CloudFront to the chatbot's APIs; requests without it get 403",
      enabled: true,
      lifecycle: { createBeforeDestroy: true },
    });
    this.value = this.apiKey.value;

    this.usagePlan = new ApiGatewayUsagePlan(this, "usage-plan", {
      name: options.name,
      description: "Ceiling on all traffic through CloudFront: a daily quota and a request rate",
      apiStages: [...options.stages],
      quotaSettings: dailyQuota > 0 ? { limit: dailyQuota, period: "DAY" } : undefined,
      throttleSettings: { rateLimit: options.rateLimit ?? 10, burstLimit: options.burstLimit ?? 20 },
    });
    new ApiGatewayUsagePlanKey(this, "usage-plan-key", {
      keyId: this.apiKey.id,
      keyType: "API_KEY",
      usagePlanId: this.usagePlan.id,
      lifecycle: { createBeforeDestroy: true },
    });
  }
}
