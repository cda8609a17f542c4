import { StackJson, environmentConfig, synthStack } from "./helpers";

const backendOf = (json: StackJson) => ({ backend: json.terraform.backend, cloud: json.terraform.cloud });

describe("StateBackend", () => {
  it("keeps state in a local file at the project root by default, without an absolute path", () => {
    expect(backendOf(synthStack())).toEqual({ backend: { local: { path: "../../../terraform.chatbot-dev.tfstate" } }, cloud: undefined });
  });

  it("uses an encrypted S3 object with S3-native locking for the s3 kind", () => {
    const json = synthStack(environmentConfig({ backend: "s3", stateBucket: "acme-tfstate", stateRegion: "us-east-1" }));
    expect(backendOf(json)).toEqual({
      backend: { s3: { bucket: "acme-tfstate", key: "chatbot/dev/terraform.tfstate", region: "us-east-1", encrypt: true, use_lockfile: true } },
      cloud: undefined,
    });
  });

  it("uses a Terraform Cloud workspace for the cloud kind", () => {
    const json = synthStack(environmentConfig({ backend: "cloud", tfcOrganization: "acme", tfcWorkspace: "chatbot-dev" }));
    expect(json.terraform.backend).toBeUndefined();
    expect(json.terraform.cloud).toEqual({ organization: "acme", hostname: "app.terraform.io", workspaces: { name: "chatbot-dev" } });
  });

  it("points the S3 backend at the emulator only when an emulator endpoint is set", () => {
    const json = synthStack(environmentConfig({ backend: "s3", stateBucket: "tfstate", awsEndpointUrl: "http://127.0.0.1:5000" }));
    expect(json.terraform.backend.s3).toMatchObject({ endpoints: { s3: "http://127.0.0.1:5000" }, use_path_style: true });
  });

  it("never writes credentials into the synthesized JSON", () => {
    for (const json of [
      synthStack(environmentConfig({ backend: "s3", stateBucket: "acme-tfstate" })),
      synthStack(environmentConfig({ backend: "cloud", tfcOrganization: "acme", tfcWorkspace: "w" })),
      synthStack(environmentConfig({ awsEndpointUrl: "http://127.0.0.1:5000" })),
    ]) {
      expect(JSON.stringify(json)).not.toMatch(/access_key|secret_key|"token"|session_token|AKIA[0-9A-Z]{16}/);
    }
  });
});
