"""What the deploy rehearsal reads back about saved conversations (boto3 against the emulator)."""

from __future__ import annotations

import json
from typing import Any, Callable

from deployed_shape import check, deployed_distribution, role_policy

TABLE = "chatbot-dev-conversations"
FUNCTION = "lambda-chat-conversations-dev"
# (method, resource path) of every route, and the path the function's resource policy names.
ROUTES = [
    ("GET", "/conversations", "conversations"), ("DELETE", "/conversations", "conversations"),
    ("GET", "/conversations/{id}", "conversations/*"), ("PATCH", "/conversations/{id}", "conversations/*"),
    ("DELETE", "/conversations/{id}", "conversations/*"), ("GET", "/conversations/{id}/export", "conversations/*/export"),
]


def assert_conversations(aws: Callable[..., Any], outputs: dict[str, Any], retention_days: int) -> None:
    dynamodb, apigw, lam, iam, cf = aws("dynamodb"), aws("apigateway"), aws("lambda"), aws("iam"), aws("cloudfront")
    check(outputs["ConversationsTable"]["value"] == TABLE, "ConversationsTable output")
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    check(sorted((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]) == [("item_key", "RANGE"), ("user_id", "HASH")], "conversations keyed by user_id and item_key")
    check(table.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST", "conversations table on demand")
    [index] = table["LocalSecondaryIndexes"]
    check(index["IndexName"] == "by-updated" and [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]] == [("user_id", "HASH"), ("updated_key", "RANGE")]
          and index["Projection"]["ProjectionType"] == "ALL", "local index by-updated on updated_key, projecting all")
    check(table.get("DeletionProtectionEnabled", False) is False, "dev's conversations are not deletion-protected (prod's are)")
    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    check(ttl.get("TimeToLiveStatus") == "ENABLED" and ttl.get("AttributeName") == "expires_at", f"messages expire by TTL on expires_at: {ttl}")
    pitr = dynamodb.describe_continuous_backups(TableName=TABLE)["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    check(pitr["PointInTimeRecoveryStatus"] == "ENABLED", "point-in-time recovery on")

    config = lam.get_function_configuration(FunctionName=FUNCTION)
    env = config["Environment"]["Variables"]
    check(config["Handler"] == "conversations_function.lambda_handler" and config["Timeout"] == 30, "conversations function handler and timeout")
    check(env["CONVERSATIONS_TABLE"] == TABLE and env["CONVERSATION_RETENTION_DAYS"] == str(retention_days) and env["AUTH"] == "cognito",
          "conversations function knows the table, the retention and that callers are signed in")
    for name in ("lambda-chat-api-dev", "lambda-chat-stream-dev"):
        chat_env = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        check(chat_env.get("CONVERSATIONS_TABLE") == TABLE and chat_env.get("CONVERSATION_RETENTION_DAYS") == str(retention_days), f"{name} saves turns in the table")
        [grant] = role_policy(iam, f"{name}-role", "conversations")["Statement"]
        check(sorted(grant["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"] and grant["Resource"] == [table["TableArn"]],
              f"{name} may load and save on this table only")
    own = role_policy(iam, f"{FUNCTION}-role", "logs-and-conversations")["Statement"]
    on_tables = sorted((r, a) for st in own if any(a.startswith("dynamodb:") for a in st["Action"]) for r in st["Resource"] for a in st["Action"])
    index_arn = f"{table['TableArn']}/index/by-updated"
    check(on_tables == sorted([*((table["TableArn"], f"dynamodb:{a}") for a in ("GetItem", "Query", "UpdateItem", "DeleteItem", "BatchWriteItem")), (index_arn, "dynamodb:Query")]),
          f"conversations function: only its actions on this table and its index: {on_tables}")

    api = next(a for a in apigw.get_rest_apis()["items"] if a["name"] == "api-chatbot-dev")
    [authorizer] = apigw.get_authorizers(restApiId=api["id"])["items"]
    paths = {r["path"]: r for r in apigw.get_resources(restApiId=api["id"])["items"]}
    for verb, path, _ in ROUTES:
        method = apigw.get_method(restApiId=api["id"], resourceId=paths[path]["id"], httpMethod=verb)
        check(method["authorizationType"] == "COGNITO_USER_POOLS" and method["authorizerId"] == authorizer["id"] and method["apiKeyRequired"] is True,
              f"{verb} {path}: ID token and CloudFront's key")
        integration = method["methodIntegration"]
        check(integration["type"] == "AWS_PROXY" and config["FunctionArn"] in integration["uri"], f"{verb} {path}: proxy integration to the conversations function")
    statements = json.loads(lam.get_policy(FunctionName=FUNCTION)["Policy"])["Statement"]
    arns = sorted(s["Condition"]["ArnLike"]["AWS:SourceArn"].split("/", 1)[1] for s in statements)
    check(arns == sorted(f"dev/{verb}/{arn_path}" for verb, _, arn_path in ROUTES), f"API Gateway may invoke it for these routes of the dev stage only: {arns}")

    behaviours = {b["PathPattern"]: b for b in deployed_distribution(cf, outputs)["DistributionConfig"]["CacheBehaviors"]["Items"]}
    for pattern in ("/conversations", "/conversations/*"):
        b = behaviours[pattern]
        check(b["TargetOriginId"] == "chat-api" and b["CachePolicyId"] == behaviours["/chat"]["CachePolicyId"]
              and b["OriginRequestPolicyId"] == behaviours["/chat"]["OriginRequestPolicyId"] and "PATCH" in b["AllowedMethods"]["Items"],
              f"CloudFront sends {pattern} to the REST API like /chat")
    bucket = outputs["SiteBucketName"]["value"]
    page_config = json.loads(aws("s3").get_object(Bucket=bucket, Key="auth-config.json")["Body"].read())
    check(page_config.get("conversations") is True, "the page is told the server keeps conversations")
