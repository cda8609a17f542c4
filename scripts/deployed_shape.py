"""What the deploy rehearsal reads back through boto3 after `terraform apply` (and after `destroy`).

Each `check` is one fact about the deployed stack; the rehearsal prints how many held.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from tfharness import ROOT

REGION = "ap-northeast-2"
STATE_BUCKET = "chatbot-rehearsal-tfstate"
ACCOUNT = "123456789012"  # moto's default account

checks_passed = 0


def check(condition: bool, what: str) -> None:
    global checks_passed
    if not condition:
        raise AssertionError(f"deployed shape: {what}")
    checks_passed += 1


def role_policy(iam: Any, role: str, name: str) -> dict[str, Any]:
    """An inline role policy as a dict (boto3 may already have decoded it)."""
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    return json.loads(document) if isinstance(document, str) else document


def deployed_distribution(cf: Any, outputs: dict[str, Any]) -> dict[str, Any]:
    """The stack's CloudFront distribution (GetDistribution's `Distribution`), found by its output domain."""
    domain = outputs["distributionDomainName"]["value"]
    distribution_id = next(d["Id"] for d in cf.list_distributions()["DistributionList"]["Items"] if d["DomainName"] == domain)
    return cf.get_distribution(Id=distribution_id)["Distribution"]


def state_resource(state: dict[str, Any], kind: str) -> dict[str, Any]:
    """Attribute values of the single resource of a type in a state file (format version 4)."""
    found = [instance["attributes"] for r in state["resources"] if r["type"] == kind and r["mode"] == "managed"
             for instance in r["instances"]]
    if len(found) != 1:
        raise AssertionError(f"expected one {kind} in the state, found {len(found)}")
    return found[0]


def assert_core(aws: Callable[[str], Any], outputs: dict[str, Any], state: dict[str, Any], endpoint_name: str, tracing: bool) -> None:
    """The chat function, the REST API, logging, IAM, the site bucket and CloudFront."""
    apigw, lam, logs, iam, s3, cf = (aws(s) for s in ("apigateway", "lambda", "logs", "iam", "s3", "cloudfront"))

    fn = lam.get_function(FunctionName="lambda-chat-api-dev")["Configuration"]
    check(fn["Runtime"] == "python3.13" and fn["Handler"] == "lambda_function.lambda_handler" and fn["Timeout"] == 120, "function runtime/handler/timeout")
    check(fn["Environment"]["Variables"]["endpoint"] == endpoint_name, "function env endpoint")

    api = next(a for a in apigw.get_rest_apis()["items"] if a["name"] == "api-chatbot-dev")
    check(api["endpointConfiguration"]["types"] == ["REGIONAL"], "API is regional")
    resources = apigw.get_resources(restApiId=api["id"])["items"]
    chat = next(r for r in resources if r.get("path") == "/chat")
    method = apigw.get_method(restApiId=api["id"], resourceId=chat["id"], httpMethod="POST")
    validators = {v["id"]: v for v in apigw.get_request_validators(restApiId=api["id"])["items"]}
    check(validators[method["requestValidatorId"]]["validateRequestBody"] is True, "POST /chat validates the body")
    check(method["requestModels"] == {"application/json": "ChatRequest"}, "POST /chat body model")
    model = apigw.get_model(restApiId=api["id"], modelName="ChatRequest")
    check(json.loads(model["schema"])["required"] == ["text"], "ChatRequest schema requires text")
    integration = method["methodIntegration"]
    # With sign-in (rehearsed) the mapping template adds the caller; other content types get 415.
    check(integration["type"] == "AWS" and integration["passthroughBehavior"] == "NEVER", "non-proxy integration with the caller template")
    check(integration["uri"].endswith(f"{fn['FunctionArn']}/invocations"), "integration targets the function's invoke ARN")
    role_arn = iam.get_role(RoleName="api-role-chatbot-dev")["Role"]["Arn"]
    check(integration["credentials"] == role_arn, "integration uses the credentials role")
    check(int(integration["timeoutInMillis"]) == 29000, "integration timeout")
    responses = integration["integrationResponses"]
    # One per status of contract/chat-errors.json (the stack builds them from it), and 200.
    contract = json.loads((ROOT / "contract" / "chat-errors.json").read_text())
    expected = sorted({"200", *(str(e["statusCode"]) for e in contract["errors"])})
    check(sorted(responses) == expected, f"integration responses {sorted(responses)} (contract: {expected})")
    check(responses["400"]["selectionPattern"] == r"^\[400(?::[a-z_]+)?\][\s\S]*", "400 selection pattern (an optional reason)")
    check('"reason": "$util.escapeJavaScript($reason)"' in responses["429"]["responseTemplates"]["application/json"], "429 template answers the reason")
    check("$util.escapeJavaScript($msg)" in responses["502"]["responseTemplates"]["application/json"], "502 template")
    check(sorted(method["methodResponses"]) == sorted(responses), "a method response per integration response")
    gateway = {g["responseType"]: g for g in apigw.get_gateway_responses(restApiId=api["id"])["items"]}
    reasons = {"DEFAULT_4XX": "request_refused", "DEFAULT_5XX": "internal", "BAD_REQUEST_BODY": "invalid_request",
               "THROTTLED": "throttled", "QUOTA_EXCEEDED": "site_quota", "INTEGRATION_TIMEOUT": "model_timeout"}
    for kind, reason in reasons.items():
        check(gateway.get(kind, {}).get("responseTemplates", {}).get("application/json")
              == '{"message":$context.error.messageString,"reason":"%s"}' % reason, f"{kind} gateway response with reason {reason}")

    stage = apigw.get_stage(restApiId=api["id"], stageName="dev")
    settings = stage["methodSettings"]["*/*"]
    check(settings["loggingLevel"] == "INFO" and settings["metricsEnabled"] and settings["dataTraceEnabled"], "stage logging settings")
    check(settings["throttlingRateLimit"] == 10 and settings["throttlingBurstLimit"] == 20, "stage throttling")
    check(stage["accessLogSettings"]["destinationArn"].endswith("log-group:/aws/apigateway/api-chatbot-dev/access"), "access log destination")

    retention = {g["logGroupName"]: g.get("retentionInDays") for g in logs.describe_log_groups()["logGroups"]}
    for name in ("/aws/lambda/lambda-chat-api-dev", f"API-Gateway-Execution-Logs_{api['id']}/dev", "/aws/apigateway/api-chatbot-dev/access"):
        check(retention.get(name) == 1, f"log group {name} with 1 day retention")

    lambda_policy = role_policy(iam, "lambda-chat-api-dev-role", "logs-and-model")
    actions = sorted(a for s in lambda_policy["Statement"] for a in s["Action"])
    traced = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"] if tracing else []
    check(actions == ["logs:CreateLogStream", "logs:PutLogEvents", "sagemaker:InvokeEndpoint", *traced], f"function role actions {actions}")
    model_resources = [r for s in lambda_policy["Statement"] if s["Action"] == ["sagemaker:InvokeEndpoint"] for r in s["Resource"]]
    check(model_resources == [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{endpoint_name}"], "function role endpoint ARN")
    invoke = role_policy(iam, "api-role-chatbot-dev", "invoke-chat-function")
    check(invoke["Statement"][0]["Resource"] == [fn["FunctionArn"]], "credentials role may invoke only the function")
    permission = json.loads(lam.get_policy(FunctionName="lambda-chat-api-dev")["Policy"])["Statement"][0]
    check(permission["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(f"{api['id']}/dev/POST/chat"), "lambda permission source ARN")

    bucket = outputs["SiteBucketName"]["value"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    check(all(block.values()) and len(block) == 4, "bucket public access block")
    check(s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced", "bucket ownership")
    bucket_policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    sids = {s["Sid"]: s for s in bucket_policy["Statement"]}
    distribution = deployed_distribution(cf, outputs)
    check(sids["AllowThisDistributionToRead"]["Condition"]["StringEquals"]["AWS:SourceArn"] == distribution["ARN"], "bucket policy names the distribution")
    check(sids["DenyInsecureTransport"]["Effect"] == "Deny", "bucket policy denies non-TLS")
    site_files = sorted(p.relative_to(ROOT / "site").as_posix() for p in (ROOT / "site").rglob("*") if p.is_file())
    objects = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
    # Plus the page's sign-in configuration, which the stack writes (sign-in is rehearsed).
    check(objects == sorted([*site_files, "auth-config.json"]), f"every site file uploaded: {objects} vs {site_files}")
    config = json.loads(s3.get_object(Bucket=bucket, Key="auth-config.json")["Body"].read())
    check(config["auth"] == "cognito" and config["signInOrigin"] == f"https://falcon-chatbot-dev.auth.{REGION}.amazoncognito.com", "page sign-in configuration")
    page = s3.get_object(Bucket=bucket, Key="chat.html")["Body"].read().decode()
    check(f"connect-src 'self' https://falcon-chatbot-dev.auth.{REGION}.amazoncognito.com;" in page, "chat.html CSP allows the sign-in origin")
    types = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
    for key in objects:
        head = s3.head_object(Bucket=bucket, Key=key)
        expected = types.get(Path(key).suffix)
        check(expected is None or head["ContentType"] == expected, f"{key} content type {head['ContentType']}")

    config = distribution["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]["Items"]}
    check(origins["chat-api"]["DomainName"] == f"{api['id']}.execute-api.{REGION}.amazonaws.com" and origins["chat-api"]["OriginPath"] == "/dev", "API origin")
    check(origins["chat-api"]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only", "API origin HTTPS only")
    # moto's GetDistribution omits OriginAccessControlId, so the link is checked in Terraform's
    # state (read back from moto on refresh) against the OAC moto holds.
    oacs = cf.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    state_origins = {o["origin_id"]: o for o in state_resource(state, "aws_cloudfront_distribution")["origin"]}
    check(len(oacs) == 1 and state_origins["site-bucket"]["origin_access_control_id"] == oacs[0]["Id"], "S3 origin uses origin access control")
    check(oacs[0]["OriginAccessControlOriginType"] == "s3" and oacs[0]["SigningBehavior"] == "always", "OAC signs every request")
    check(config["DefaultRootObject"] == "chat.html" and config["PriceClass"] == "PriceClass_200", "root object and price class")
    default = config["DefaultCacheBehavior"]
    check(default["ViewerProtocolPolicy"] == "redirect-to-https" and default["Compress"], "default behaviour HTTPS + compression")
    check(default["ResponseHeadersPolicyId"] == "67f7725c-6f97-4210-82d7-5512b31e9d03", "security headers policy")
    chat_behaviour = config["CacheBehaviors"]["Items"][0]
    check(chat_behaviour["PathPattern"] == "/chat" and chat_behaviour["TargetOriginId"] == "chat-api", "/chat behaviour")
    check(chat_behaviour["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "/chat caching disabled")
    check(chat_behaviour["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac", "/chat AllViewerExceptHostHeader")


def assert_account(aws: Callable[..., Any], role_arn: str) -> None:
    """The account's API Gateway CloudWatch role is the account stack's role, which may push logs."""
    iam = aws("iam")
    role = iam.get_role(RoleName=f"chatbot-apigateway-cloudwatch-{REGION}")["Role"]
    check(role["Arn"] == role_arn, "the account stack's CloudWatch role exists")
    check(aws("apigateway").get_account()["cloudwatchRoleArn"] == role_arn, "the account's API Gateway CloudWatch role is the account stack's")
    attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]]
    check(attached == ["AmazonAPIGatewayPushToCloudWatchLogs"], f"the role may push logs: {attached}")


def assert_nothing_left(aws: Callable[..., Any], zone_id: str) -> None:
    lam, apigw, iam, logs, s3, cf = (aws(s) for s in ("lambda", "apigateway", "iam", "logs", "s3", "cloudfront"))
    check(lam.list_functions()["Functions"] == [], "no Lambda function left")
    check(aws("apigatewayv2").get_apis()["Items"] == [], "no WebSocket API left")
    check(aws("dynamodb").list_tables()["TableNames"] == [], "no DynamoDB table left")
    check(apigw.get_rest_apis()["items"] == [], "no REST API left")
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if not r["Path"].startswith("/aws-service-role/")]
    check(roles == [], f"no IAM role left: {roles}")
    check(logs.describe_log_groups()["logGroups"] == [], "no log group left")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check(buckets == [STATE_BUCKET], f"only the state bucket left: {buckets}")
    check(cf.list_distributions()["DistributionList"].get("Items", []) == [], "no distribution left")
    check(cf.list_origin_access_controls()["OriginAccessControlList"].get("Items", []) == [], "no origin access control left")
    sm, aas = aws("sagemaker"), aws("application-autoscaling")
    left = sm.list_endpoints()["Endpoints"] + sm.list_endpoint_configs()["EndpointConfigs"] + sm.list_models()["Models"]
    check(left == [], f"no SageMaker endpoint, configuration or model left: {left}")
    check(aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == [], "no scalable target left")
    apigw = aws("apigateway")
    check(apigw.get_api_keys()["items"] == [] and apigw.get_usage_plans()["items"] == [], "no API key or usage plan left")
    check(aws("wafv2", "us-east-1").list_web_acls(Scope="CLOUDFRONT")["WebACLs"] == [], "no web ACL left")
    check(aws("wafv2", "us-east-1").list_ip_sets(Scope="CLOUDFRONT")["IPSets"] == [], "no IP set left")
    check(aws("acm", "us-east-1").list_certificates()["CertificateSummaryList"] == [], "no certificate left")
    for region in (REGION, "us-east-1"):
        check(aws("cloudwatch", region).describe_alarms()["MetricAlarms"] == [], f"no alarm left in {region}")
        check(aws("sns", region).list_topics()["Topics"] == [], f"no topic left in {region}")
    check(aws("cloudwatch").list_dashboards()["DashboardEntries"] == [], "no dashboard left")
    left = [(r["Name"], r["Type"]) for r in aws("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"] if r["Type"] not in ("NS", "SOA")]
    check(left == [], f"no record left in the zone: {left}")
