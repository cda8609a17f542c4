import { CloudBackend, LocalBackend, NamedCloudWorkspace, S3Backend } from "cdktf";
import { Construct } from "constructs";
import type { BackendKind } from "./config";

/** Options of {@link StateBackend}. */
export interface StateBackendOptions {
  /** Where the state lives. @default "local" */
  readonly kind?: BackendKind;
  /** Stack name, used for the local state file name. */
  readonly stackName: string;
  /** S3: bucket (required for "s3"). */
  readonly bucket?: string;
  /** S3: object key. */
  readonly key?: string;
  /** S3: bucket region. */
  readonly region?: string;
  /** Terraform Cloud: organization (required for "cloud"). */
  readonly organization?: string;
  /** Terraform Cloud: workspace (required for "cloud"). */
  readonly workspace?: string;
  /** Terraform Cloud / Enterprise host. @default "app.terraform.io" */
  readonly hostname?: string;
  /** Test only: S3 API endpoint of an emulator. */
  readonly s3EndpointUrl?: string;
}

/**
 * Where Terraform keeps this stack's state: a local file (the default, so a
 * first synth needs no account), an encrypted S3 object with S3-native locking,
 * or a Terraform Cloud workspace. No credentials are ever written here; Terraform
 * takes them from the environment.
 */
export class StateBackend extends Construct {
  public readonly kind: BackendKind;

  constructor(scope: Construct, id: string, options: StateBackendOptions) {
    super(scope, id);
    this.kind = options.kind ?? "local";
    switch (this.kind) {
      case "local":
        new LocalBackend(this, {
          // Relative to cdktf.out/stacks/<stack>: the project root, as cdktf's own default,
          // but without writing the build machine's absolute path into the JSON.
          path: `../../../terraform.${options.stackName}.tfstate`,
        });
        break;
      case "s3": {
        if (!options.bucket || !options.key) throw new Error(`S3 backend of ${options.stackName} needs a bucket and a key`);
        const backend = new S3Backend(this, {
          bucket: options.bucket,
          key: options.key,
          region: options.region,
          encrypt: true,
          ...(options.s3EndpointUrl === undefined
            ? {}
            : {
                endpoints: { s3: options.s3EndpointUrl },
                usePathStyle: true,
                skipCredentialsValidation: true,
                skipRequestingAccountId: true,
                skipMetadataApiCheck: true,
                skipRegionValidation: true,
              }),
        });
        // S3-native state locking (Terraform >= 1.10): no DynamoDB table to create or pay for.
        // cdktf 0.21's S3Backend has no typed field for it yet.
        backend.addOverride("use_lockfile", true);
        break;
      }
      case "cloud":
        if (!options.organization || !options.workspace) {
          throw new Error(`Terraform Cloud backend of ${options.stackName} needs an organization and a workspace`);
        }
        new CloudBackend(this, {
          organization: options.organization,
          workspaces: new NamedCloudWorkspace(options.workspace),
          hostname: options.hostname,
        });
        break;
    }
  }
}
