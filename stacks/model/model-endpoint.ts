import { AppautoscalingPolicy } from "@cdktf/provider-aws/lib/appautoscaling-policy";
import { AppautoscalingTarget } from "@cdktf/provider-aws/lib/appautoscaling-target";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { SagemakerEndpoint } from "@cdktf/provider-aws/lib/sagemaker-endpoint";
import { SagemakerEndpointConfiguration } from "@cdktf/provider-aws/lib/sagemaker-endpoint-configuration";
import { SagemakerModel } from "@cdktf/provider-aws/lib/sagemaker-model";
import { Construct } from "constructs";
import { PolicyStatement, policyDocument, servicePrincipalTrust } from "../iam";
import {
  CatalogueModel,
  PROVIDER_INSERVICE_WAIT_SECONDS,
  TGI_IMAGE_ACCOUNTS,
  TGI_IMAGE_REPOSITORY,
  artifactBucket,
  containerEnvironment,
  tgiImageUri,
} from "./catalogue";
import { parseS3Prefix } from "./s3-prefix";

/** Options of {@link ModelEndpoint}. */
export interface ModelEndpointOptions {
  /** Endpoint name, unique per account and region, e.g. `falcon-chatbot-dev` (at most 37 characters: it also prefixes configuration names). */
  readonly endpointName: string;
  /** The catalogue model to serve. */
  readonly model: CatalogueModel;
  /**
   * An uncompressed S3 prefix (`s3://bucket/prefix/`) holding a Hub model's files: SageMaker
   * copies them in, the container runs with network isolation and the role reads only that
   * prefix. Only for Hub models (JumpStart's come from JumpStart's bucket).
   * @default none: TGI downloads the weights from the Hugging Face Hub (network isolation off)
   */
  readonly modelDataS3Uri?: string;
  /** Instance type; must be one of the model's. @default the model's default instance type */
  readonly instanceType?: string;
  /** Instances the endpoint starts with and autoscaling never goes below (at least 1). @default 1 */
  readonly minInstances?: number;
  /** Most instances autoscaling may run; equal to `minInstances` turns autoscaling off. @default 2 */
  readonly maxInstances?: number;
  /**
   * Concurrent requests per instance that autoscaling keeps the endpoint at. TGI batches
   * requests, so a few at once per GPU instance keep it busy without queueing. @default 5
   */
  readonly targetConcurrentRequests?: number;
  /** Region of the endpoint (picks the TGI image account and the artifact bucket). */
  readonly region: string;
  /** AWS partition, for ARNs. */
  readonly partition: string;
  /** Account id of the stack, for ARNs and the role's trust condition. */
  readonly accountId: string;
  /** Retention of `/aws/sagemaker/Endpoints/<name>`. @default 1 */
  readonly logRetentionDays?: number;
}

/** The only variant: SageMaker's usual name for a single-variant endpoint. */
export const VARIANT_NAME = "AllTraffic";

/**
 * A Falcon model served by the Hugging Face TGI container on a real-time endpoint, with
 * target-tracking autoscaling and an execution role that can reach nothing but its image,
 * its weights (when they come from S3), its logs and its metrics. Weights come from
 * JumpStart's prepacked artifacts, from the user's S3 prefix (`modelDataS3Uri`), both with
 * network isolation, or from the Hugging Face Hub, which needs the container to reach
 * the internet.
 *
 * Updates happen in place: every change (model, instance type, scaling) produces a new
 * endpoint configuration beside the old one (a generated name, created before the old
 * one is deleted), and the endpoint switches to it with SageMaker's blue/green update,
 * which keeps serving throughout. See the README ("Deploy the model with the stack").
 */
export class ModelEndpoint extends Construct {
  public readonly role: IamRole;
  public readonly logGroup: CloudwatchLogGroup;
  public readonly model: SagemakerModel;
  public readonly endpointConfiguration: SagemakerEndpointConfiguration;
  public readonly endpoint: SagemakerEndpoint;
  /** Absent when `minInstances` equals `maxInstances`. */
  public readonly scalableTarget?: AppautoscalingTarget;
  /** The endpoint's name, as the chat functions call it. */
  public readonly endpointName: string;

  constructor(scope: Construct, id: string, options: ModelEndpointOptions) {
    super(scope, id);
    const { model, region, partition, accountId } = options;
    const instanceType = options.instanceType ?? model.defaultInstanceType;
    const minInstances = options.minInstances ?? 1;
    const maxInstances = options.maxInstances ?? 2;
    validate(options.endpointName, model, instanceType, minInstances, maxInstances, region, options.modelDataS3Uri);
    const name = options.endpointName;
    this.endpointName = name;

    // Created before the endpoint so retention applies from the container's first line.
    this.logGroup = new CloudwatchLogGroup(this, "log-group", {
      name: `/aws/sagemaker/Endpoints/${name}`,
      retentionInDays: options.logRetentionDays ?? 1,
    });

    const weights = weightsLocation(model, region, options.modelDataS3Uri);
    this.role = new IamRole(this, "execution-role", {
      name: `${name}-sagemaker`,
      description: `SageMaker execution role of ${name}: its image, its artifacts, its logs and metrics`,
      assumeRolePolicy: servicePrincipalTrust("sagemaker.amazonaws.com", accountId),
    });
    const readWeights: PolicyStatement[] = weights === undefined ? [] : [
      {
        Sid: "ReadModelArtifacts",
        Effect: "Allow",
        Action: ["s3:GetObject"],
        Resource: [`arn:${partition}:s3:::${weights.bucket}/${weights.prefix}*`],
      },
      {
        Sid: "ListModelArtifacts",
        Effect: "Allow",
        Action: ["s3:ListBucket"],
        Resource: [`arn:${partition}:s3:::${weights.bucket}`],
        Condition: { StringLike: { "s3:prefix": [`${weights.prefix}*`] } },
      },
    ];
    const rolePolicy = new IamRolePolicy(this, "execution-role-policy", {
      name: "image-artifacts-logs-metrics",
      role: this.role.id,
      policy: policyDocument([
        {
          Sid: "PullTheImage",
          Effect: "Allow",
          Action: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
          Resource: [`arn:${partition}:ecr:${region}:${TGI_IMAGE_ACCOUNTS[region]}:repository/${TGI_IMAGE_REPOSITORY}`],
        },
        {
          // ECR's token call has no resource to scope it to.
          Sid: "GetRegistryToken",
          Effect: "Allow",
          Action: ["ecr:GetAuthorizationToken"],
          Resource: ["*"],
        },
        ...readWeights,
        {
          Sid: "WriteOwnLogs",
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
          Resource: [`${this.logGroup.arn}:*`],
        },
        {
          // PutMetricData has no resources; the condition keeps it to SageMaker's namespace.
          Sid: "PublishEndpointMetrics",
          Effect: "Allow",
          Action: ["cloudwatch:PutMetricData"],
          Resource: ["*"],
          Condition: { StringEquals: { "cloudwatch:namespace": "/aws/sagemaker/Endpoints" } },
        },
      ]),
    });

    this.model = new SagemakerModel(this, "model", {
      // No name: the provider generates one, so a changed model (a replacement) is created
      // beside the one the running endpoint still uses.
      executionRoleArn: this.role.arn,
      // With weights from S3 the container gets no network: it needs none, and a model cannot
      // leak data without one. Weights from the Hugging Face Hub are downloaded by TGI itself
      // at start (HF_MODEL_ID), which needs the internet: isolation off is the price of not
      // staging them (README, "Model weights").
      enableNetworkIsolation: weights !== undefined,
      primaryContainer: {
        image: tgiImageUri(model, region),
        mode: "SingleModel",
        modelDataSource: weights && {
          s3DataSource: [
            {
              // Uncompressed files under a prefix: no tarball to download and unpack.
              s3Uri: `s3://${weights.bucket}/${weights.prefix}`,
              s3DataType: "S3Prefix",
              compressionType: "None",
            },
          ],
        },
        environment: containerEnvironment(model, instanceType, weights !== undefined),
      },
      lifecycle: { createBeforeDestroy: true },
      // SageMaker checks the role's access to the image and artifacts when the model is created.
      dependsOn: [rolePolicy],
    });

    // Every argument of an endpoint configuration forces a new one. A generated name
    // (name_prefix) and create_before_destroy let the new one exist beside the old, so the
    // endpoint can switch to it; the old one is deleted only after the switch.
    this.endpointConfiguration = new SagemakerEndpointConfiguration(this, "endpoint-configuration", {
      namePrefix: `${name}-`,
      productionVariants: [
        {
          variantName: VARIANT_NAME,
          modelName: this.model.name,
          instanceType,
          // Also the count every update resets the endpoint to (AWS documents this).
          initialInstanceCount: minInstances,
          // Weights from S3 are copied in first, then the container starts; weights from the
          // Hub are downloaded by the container itself, inside its health-check wait.
          modelDataDownloadTimeoutInSeconds: weights ? model.startupTimeoutSeconds / 2 : undefined,
          containerStartupHealthCheckTimeoutInSeconds: weights ? model.startupTimeoutSeconds / 2 : model.startupTimeoutSeconds,
          // Answers take seconds and vary in length: send each request to the instance
          // with the fewest in flight, not at random.
          routingConfig: [{ routingStrategy: "LEAST_OUTSTANDING_REQUESTS" }],
        },
      ],
      lifecycle: { createBeforeDestroy: true },
    });

    this.endpoint = new SagemakerEndpoint(this, "endpoint", {
      name,
      // A new configuration name is an UpdateEndpoint, not a replacement: the endpoint
      // keeps its name and keeps serving while SageMaker brings up the new fleet.
      endpointConfigName: this.endpointConfiguration.name,
      deploymentConfig: {
        // Blue/green, all at once: the new fleet is started beside the old, traffic moves
        // when it is healthy, then the old fleet stops. The account's instance quota must
        // cover both fleets during an update. (A rolling update needs at least two
        // instances: its batch must be 5-50% of the fleet.)
        blueGreenUpdatePolicy: {
          trafficRoutingConfiguration: { type: "ALL_AT_ONCE", waitIntervalInSeconds: 0 },
          terminationWaitInSeconds: 0,
          // SageMaker rolls the update back after this long; the aws provider stops waiting
          // for InService at the same moment (a fixed 60 minutes), see the README ("When a
          // start or an update takes too long").
          maximumExecutionTimeoutInSeconds: PROVIDER_INSERVICE_WAIT_SECONDS,
        },
      },
      dependsOn: [this.logGroup],
    });

    if (maxInstances > minInstances) this.scalableTarget = this.autoscaling(minInstances, maxInstances, options.targetConcurrentRequests ?? 5);
  }

  /**
   * Target tracking on the variant's concurrent requests. Invocations per minute suit
   * short requests; an LLM request lasts seconds and a streamed one until its last token,
   * so the number in flight (SageMaker's high-resolution ConcurrentRequestsPerModel,
   * reported every 10 s, counting queued and streaming requests) is what says an instance
   * is full. Scale out fast, scale in slowly: a new GPU instance takes minutes to start.
   */
  private autoscaling(minInstances: number, maxInstances: number, target: number): AppautoscalingTarget {
    const resourceId = `endpoint/${this.endpoint.name}/variant/${VARIANT_NAME}`;
    // AWS documents that an UpdateEndpoint changing a variant's instance type fails while the
    // variant is registered for autoscaling. Replacing the registration (and its policy)
    // whenever the endpoint configuration is replaced makes Terraform deregister first,
    // then update the endpoint, then register again: the deploy rehearsal reads this order
    // from Terraform's apply graph.
    // (A plain address: cdktf would write the resource as "${...}", which Terraform refuses here.)
    const configuration = this.endpointConfiguration;
    const reRegisterOnUpdate = { replaceTriggeredBy: [`${configuration.terraformResourceType}.${configuration.friendlyUniqueId}`] };
    const scalableTarget = new AppautoscalingTarget(this, "scalable-target", {
      serviceNamespace: "sagemaker",
      resourceId,
      scalableDimension: "sagemaker:variant:DesiredInstanceCount",
      minCapacity: minInstances,
      maxCapacity: maxInstances,
      lifecycle: reRegisterOnUpdate,
    });
    new AppautoscalingPolicy(this, "scaling-policy", {
      name: `${this.endpointName}-concurrent-requests`,
      policyType: "TargetTrackingScaling",
      serviceNamespace: scalableTarget.serviceNamespace,
      resourceId: scalableTarget.resourceId,
      scalableDimension: scalableTarget.scalableDimension,
      targetTrackingScalingPolicyConfiguration: {
        predefinedMetricSpecification: { predefinedMetricType: "SageMakerVariantConcurrentRequestsPerModelHighResolution" },
        targetValue: target,
        scaleOutCooldown: 300,
        scaleInCooldown: 600,
      },
      lifecycle: reRegisterOnUpdate,
    });
    return scalableTarget;
  }
}

/** The S3 prefix the weights are copied from, or undefined when TGI downloads them from the Hub. */
function weightsLocation(model: CatalogueModel, region: string, modelDataS3Uri: string | undefined): { bucket: string; prefix: string } | undefined {
  if (model.weights.source === "jumpstart") return { bucket: artifactBucket(region), prefix: model.weights.artifactPrefix };
  return modelDataS3Uri === undefined ? undefined : parseS3Prefix(modelDataS3Uri);
}

function validate(name: string, model: CatalogueModel, instanceType: string, min: number, max: number, region: string, modelDataS3Uri: string | undefined): void {
  if (!/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,36}$/.test(name)) {
    throw new Error(`endpoint name ${name} must be 1-37 letters, digits or hyphens (it prefixes the configuration names)`);
  }
  if (model.instanceTypes[instanceType] === undefined) {
    throw new Error(`${model.id} does not run on ${instanceType}; it runs on ${Object.keys(model.instanceTypes).join(", ")}`);
  }
  if (!(Number.isInteger(min) && min >= 1 && Number.isInteger(max) && max >= min)) {
    throw new Error(`instances must be whole numbers with 1 <= min <= max, got min ${min}, max ${max}`);
  }
  if (TGI_IMAGE_ACCOUNTS[region] === undefined) throw new Error(`no Hugging Face TGI image is known for region ${region}`);
  if (modelDataS3Uri !== undefined) {
    if (model.weights.source !== "hub") throw new Error(`${model.id} is served from JumpStart's artifacts; modelDataS3Uri is for Hugging Face Hub models`);
    if (parseS3Prefix(modelDataS3Uri) === undefined) throw new Error(`modelDataS3Uri ${modelDataS3Uri} must be an S3 prefix s3://<bucket>/<prefix>/`);
  }
}
