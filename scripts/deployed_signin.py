"""What the deploy rehearsal reads back about sign-in (boto3 against the emulator)."""

from __future__ import annotations

from typing import Any, Callable

from deployed_shape import check

POOL = "chatbot-dev"


def assert_signin(aws: Callable[..., Any], outputs: dict[str, Any], domain: str) -> None:
    idp, apigw, dynamodb, lam = aws("cognito-idp"), aws("apigateway"), aws("dynamodb"), aws("lambda")
    pool_id = outputs["UserPoolId"]["value"]
    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    check(pool["Name"] == POOL and pool["UsernameAttributes"] == ["email"], "user pool signs in by e-mail")
    check(pool["AutoVerifiedAttributes"] == ["email"], "e-mail verified")
    check(pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12, "password policy")
    # moto leaves AllowAdminCreateUserOnly out when it is false (a deviation; AWS returns it).
    check(pool.get("AdminCreateUserConfig", {}).get("AllowAdminCreateUserOnly", False) is False, "self sign-up (rehearsed setting)")
    trigger = pool.get("LambdaConfig", {}).get("PreSignUp", "")
    check(trigger.endswith(":function:chatbot-pre-sign-up-dev"), "pre-sign-up trigger attached")
    env = lam.get_function_configuration(FunctionName="chatbot-pre-sign-up-dev")["Environment"]["Variables"]
    check(env["ALLOWED_EMAIL_DOMAINS"] == '["rehearsal.example"]', "trigger knows the allowed domain")
    client = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=outputs["UserPoolClientId"]["value"])["UserPoolClient"]
    check("ClientSecret" not in client, "public client without a secret")
    check(client["AllowedOAuthFlows"] == ["code"] and sorted(client["AllowedOAuthScopes"]) == ["email", "openid"], "code grant, openid email")
    check(f"https://{domain}/chat.html" in client["CallbackURLs"] and len(client["CallbackURLs"]) == 2, "callback URLs: CloudFront and custom domain pages")
    check(client["LogoutURLs"] == client["CallbackURLs"], "sign-out URLs")
    check(client.get("PreventUserExistenceErrors", "ENABLED") == "ENABLED", "user existence errors prevented (moto may leave it out)")
    check(idp.describe_user_pool_domain(Domain="falcon-chatbot-dev")["DomainDescription"].get("UserPoolId") == pool_id, "sign-in domain")
    check(outputs["SignInUrl"]["value"] == f"https://falcon-chatbot-dev.auth.{pool_id.split('_')[0]}.amazoncognito.com", "SignInUrl output")
    check(idp.get_group(UserPoolId=pool_id, GroupName="admin")["Group"]["GroupName"] == "admin", "admin group")

    api = next(a for a in apigw.get_rest_apis()["items"] if a["name"] == "api-chatbot-dev")
    [authorizer] = apigw.get_authorizers(restApiId=api["id"])["items"]
    check(authorizer["type"] == "COGNITO_USER_POOLS" and authorizer["identitySource"] == "method.request.header.Authorization", "Cognito authorizer")
    resources = {r["path"]: r for r in apigw.get_resources(restApiId=api["id"])["items"]}
    for path in ("/chat", "/chat/ticket"):
        method = apigw.get_method(restApiId=api["id"], resourceId=resources[path]["id"], httpMethod="POST")
        check(method["authorizationType"] == "COGNITO_USER_POOLS" and method["authorizerId"] == authorizer["id"], f"POST {path} needs a token")
    tables = dynamodb.list_tables()["TableNames"]
    check({"chatbot-dev-tickets", "chatbot-dev-daily-usage"} <= set(tables), "ticket and daily-usage tables")
    ttl = dynamodb.describe_time_to_live(TableName="chatbot-dev-daily-usage")["TimeToLiveDescription"]
    check(ttl.get("AttributeName") == "expires_at", "daily usage expires")
