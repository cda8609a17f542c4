import { TerraformOutput } from "cdktf";
import type { ChatbotStack } from "./chatbot-stack";
import { STREAM_STAGE } from "./chat-stream";
import type { EnvironmentConfig } from "./config";

/**
 * The stack's outputs. Names follow the original sample's CfnOutputs, so scripts reading
 * them keep working; the others name what each optional part adds.
 */
export function addStackOutputs(stack: ChatbotStack, c: EnvironmentConfig): void {
  const domain = c.domainName ?? stack.site.distribution.domainName;
  new TerraformOutput(stack, "distributionDomainName", { value: stack.site.distribution.domainName, description: "The domain name of the Distribution" });
  new TerraformOutput(stack, "WebUrl", { value: `https://${domain}/chat.html`, description: "The chat page" });
  new TerraformOutput(stack, "ApiUrl", {
    value: stack.chatApi.chatUrl,
    description: c.cloudFrontOnly ? "POST /chat on API Gateway; answers 403 without CloudFront's key (use https://<domain>/chat)" : "POST /chat on API Gateway (the page uses https://<domain>/chat)",
  });
  const auth = stack.signIn ? ` -H "Authorization: $ID_TOKEN"` : "";
  new TerraformOutput(stack, "CurlExample", {
    value: `curl -s -X POST https://${domain}/chat -H 'Content-Type: application/json'${auth} -d '{"text":"What is Amazon SageMaker?"}'`,
    description: stack.signIn ? "Try the API from a shell; README \"Sign-in\" shows how to get ID_TOKEN" : "Try the API from a shell",
  });
  if (stack.signIn) {
    const pool = stack.signIn.userPool;
    new TerraformOutput(stack, "UserPoolId", { value: pool.pool.id, description: "Cognito user pool of the chat's accounts (README: creating the first user)" });
    new TerraformOutput(stack, "UserPoolClientId", { value: pool.client.id, description: "The page's app client" });
    new TerraformOutput(stack, "SignInUrl", { value: pool.origin, description: "Cognito's hosted sign-in domain" });
    new TerraformOutput(stack, "DailyUsageTable", { value: stack.signIn.store.usage.name, description: "Answers per person per UTC day (scripts/daily_usage.py)" });
  }
  if (stack.conversations) {
    new TerraformOutput(stack, "ConversationsTable", { value: stack.conversations.store.table.name, description: "Each signed-in person's saved conversations (docs/conversations.md)" });
  }
  new TerraformOutput(stack, "SiteBucketName", { value: stack.site.bucket.bucket, description: "Bucket holding the page" });
  if (stack.chatStream) {
    new TerraformOutput(stack, "StreamUrl", { value: `wss://${domain}/${STREAM_STAGE}`, description: "WebSocket the page streams answers from" });
  }
  new TerraformOutput(stack, "DashboardUrl", { value: stack.operations.dashboardUrl, description: "CloudWatch dashboard of this environment" });
  new TerraformOutput(stack, "ModelEndpointName", {
    value: c.endpointName,
    description: c.modelDeploy ? "SageMaker endpoint created by this stack" : "Existing SageMaker endpoint the chat calls",
  });
}
