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


def state_resource(state: dict[str, Any], kind: str) -> dict[str, Any]:
    """Attribute values of the single resource of a type in `terraform show -json` output."""
    found = [r["values"] for r in state["values"]["root_module"]["resources"] if r["type"] == kind and r["mode"] == "managed"]
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
    check(integration["type"] == "AWS" and integration["passthroughBehavior"] == "WHEN_NO_TEMPLATES", "non-proxy integration")
    check(integration["uri"].endswith(f"{fn['FunctionArn']}/invocations"), "integration targets the function's invoke ARN")
    role_arn = iam.get_role(RoleName="api-role-chatbot-dev")["Role"]["Arn"]
    check(integration["credentials"] == role_arn, "integration uses the credentials role")
    check(int(integration["timeoutInMillis"]) == 29000, "integration timeout")
    responses = integration["integrationResponses"]
    check(sorted(responses) == ["200", "400", "429", "500", "502", "503", "504"], f"integration responses {sorted(responses)}")
    check(responses["400"]["selectionPattern"] == r"^\[400\][\s\S]*", "400 selection pattern")
    check("$util.escapeJavaScript($msg)" in responses["502"]["responseTemplates"]["application/json"], "502 template")
    check(sorted(method["methodResponses"]) == sorted(responses), "a method response per integration response")
    gateway = {g["responseType"]: g for g in apigw.get_gateway_responses(restApiId=api["id"])["items"]}
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        check(gateway[kind]["responseTemplates"]["application/json"] == '{"message":$context.error.messageString}', f"{kind} gateway response")

    stage = apigw.get_stage(restApiId=api["id"], stageName="dev")
    settings = stage["methodSettings"]["*/*"]
    check(settings["loggingLevel"] == "INFO" and settings["metricsEnabled"] and settings["dataTraceEnabled"], "stage logging settings")
    check(settings["throttlingRateLimit"] == 10 and settings["throttlingBurstLimit"] == 20, "stage throttling")
    check(stage["accessLogSettings"]["destinationArn"].endswith("log-group:/aws/apigateway/api-chatbot-dev/access"), "access log destination")
    check(apigw.get_account()["cloudwatchRoleArn"] == iam.get_role(RoleName="api-chatbot-dev-cloudwatch")["Role"]["Arn"], "account CloudWatch role")

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
    distribution_id = next(d["Id"] for d in cf.list_distributions()["DistributionList"]["Items"] if d["DomainName"] == outputs["distributionDomainName"]["value"])
    distribution = cf.get_distribution(Id=distribution_id)["Distribution"]
    check(sids["AllowThisDistributionToRead"]["Condition"]["StringEquals"]["AWS:SourceArn"] == distribution["ARN"], "bucket policy names the distribution")
    check(sids["DenyInsecureTransport"]["Effect"] == "Deny", "bucket policy denies non-TLS")
    site_files = sorted(p.relative_to(ROOT / "site").as_posix() for p in (ROOT / "site").rglob("*") if p.is_file())
    objects = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
    check(objects == site_files, f"every site file uploaded: {objects} vs {site_files}")
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


def assert_model(aws: Callable[[str], Any], endpoint_name: str, instance_type: str) -> None:
    """The SageMaker model, endpoint configuration and endpoint, autoscaling, the execution role."""
    sm, aas, iam, logs = (aws(s) for s in ("sagemaker", "application-autoscaling", "iam", "logs"))
    endpoint = sm.describe_endpoint(EndpointName=endpoint_name)
    check(endpoint["EndpointStatus"] == "InService", f"endpoint {endpoint_name} in service")
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    check(config["EndpointConfigName"].startswith(f"{endpoint_name}-"), "endpoint configuration named by prefix")
    [variant] = config["ProductionVariants"]
    check(variant["VariantName"] == "AllTraffic" and variant["InstanceType"] == instance_type, f"variant AllTraffic on {instance_type}")
    check(variant["InitialInstanceCount"] == 1, "variant starts with the minimum instance count")
    model = sm.describe_model(ModelName=variant["ModelName"])
    check(model["EnableNetworkIsolation"] is True, "model runs with network isolation")
    container = model["PrimaryContainer"]
    check(container["Image"] == f"763104351884.dkr.ecr.{REGION}.amazonaws.com/huggingface-pytorch-tgi-inference:2.4.0-tgi2.4.0-gpu-py311-cu124-ubuntu22.04", "TGI image of the region's account")
    source = container["ModelDataSource"]["S3DataSource"]
    check(source["S3Uri"] == f"s3://jumpstart-cache-prod-{REGION}/huggingface-llm/huggingface-llm-falcon-7b-instruct-bf16/artifacts/inference-prepack/v2.0.0/"
          and source["S3DataType"] == "S3Prefix" and source["CompressionType"] == "None", "uncompressed JumpStart artifacts")
    check(container["Environment"]["MAX_INPUT_LENGTH"] == "1024" and container["Environment"]["MAX_TOTAL_TOKENS"] == "2048", "TGI token limits")
    role = iam.get_role(RoleName=f"{endpoint_name}-sagemaker")["Role"]
    check(model["ExecutionRoleArn"] == role["Arn"], "model uses its own execution role")
    statements = role_policy(iam, f"{endpoint_name}-sagemaker", "image-artifacts-logs-metrics")["Statement"]
    check([st["Sid"] for st in statements] == ["PullTheImage", "GetRegistryToken", "ReadModelArtifacts", "ListModelArtifacts", "WriteOwnLogs", "PublishEndpointMetrics"], "execution role statements")
    check(not any("*" in action for st in statements for action in st["Action"]), "no wildcard action in the execution role")
    [target] = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    check(target["ResourceId"] == f"endpoint/{endpoint_name}/variant/AllTraffic" and target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount", "variant registered for autoscaling")
    check((target["MinCapacity"], target["MaxCapacity"]) == (1, 2), "autoscaling between 1 and 2 instances")
    [scaling] = aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    tracking = scaling["TargetTrackingScalingPolicyConfiguration"]
    check(tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantConcurrentRequestsPerModelHighResolution" and tracking["TargetValue"] == 5, "target tracking on concurrent requests")
    retention = {g["logGroupName"]: g.get("retentionInDays") for g in logs.describe_log_groups()["logGroups"]}
    check(retention.get(f"/aws/sagemaker/Endpoints/{endpoint_name}") == 1, "endpoint log group with 1 day retention")


def assert_stream(aws: Callable[[str], Any], outputs: dict[str, Any], custom_domain: str) -> None:
    """The WebSocket API, its stage and routes, the streaming function, its table, and CloudFront's /stream."""
    v2, lam, iam, ddb, cf = (aws(s) for s in ("apigatewayv2", "lambda", "iam", "dynamodb", "cloudfront"))
    api = next(a for a in v2.get_apis()["Items"] if a["Name"] == "api-chatbot-stream-dev")
    check(api["ProtocolType"] == "WEBSOCKET" and api["RouteSelectionExpression"] == "$request.body.action", "WebSocket API routes on the action")
    routes = {r["RouteKey"]: r for r in v2.get_routes(ApiId=api["ApiId"])["Items"]}
    check(sorted(routes) == ["$connect", "$default", "$disconnect", "chat"], f"WebSocket routes {sorted(routes)}")
    [integration] = v2.get_integrations(ApiId=api["ApiId"])["Items"]
    fn = lam.get_function(FunctionName="lambda-chat-stream-dev")["Configuration"]
    check(integration["IntegrationType"] == "AWS_PROXY" and fn["FunctionArn"] in integration["IntegrationUri"], "routes go to the streaming function")
    check(all(r["Target"] == f"integrations/{integration['IntegrationId']}" for r in routes.values()), "every route targets the integration")
    stage = v2.get_stage(ApiId=api["ApiId"], StageName="stream")
    settings = stage["DefaultRouteSettings"]
    check(stage["AutoDeploy"] is True and settings["LoggingLevel"] == "INFO", "stage stream deploys itself and logs at INFO")
    check(settings["ThrottlingRateLimit"] == 10 and settings["ThrottlingBurstLimit"] == 20, "WebSocket stage throttling")
    check(fn["Handler"] == "stream_function.lambda_handler", "streaming handler")
    env = fn["Environment"]["Variables"]
    check(env["CONNECTIONS_ENDPOINT"] == f"https://{api['ApiId']}.execute-api.{REGION}.amazonaws.com/stream", "frames go to the API's own management endpoint")
    check(json.loads(env["ALLOWED_ORIGINS"]) == [f"https://{outputs['distributionDomainName']['value']}", f"https://{custom_domain}"], "only the site's origins may connect")
    table = ddb.describe_table(TableName=env["CONNECTIONS_TABLE"])["Table"]
    check(table["KeySchema"] == [{"AttributeName": "connectionId", "KeyType": "HASH"}], "connections table keyed by connection id")
    ttl = ddb.describe_time_to_live(TableName=table["TableName"])["TimeToLiveDescription"]
    check(ttl.get("AttributeName") == "expires_at", "connection counts expire")
    statements = {st["Sid"]: st for st in role_policy(iam, "lambda-chat-stream-dev-role", "connections-and-self")["Statement"]}
    check(statements["PostToOwnConnections"]["Resource"] == [f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api['ApiId']}/stream/POST/@connections/*"], "ManageConnections only on this stage")
    check(statements["InvokeItselfAsynchronously"]["Resource"] == [fn["FunctionArn"]], "the function may invoke only itself")
    invoke_config = lam.get_function_event_invoke_config(FunctionName="lambda-chat-stream-dev")
    check(invoke_config["MaximumRetryAttempts"] == 0 and invoke_config["MaximumEventAgeInSeconds"] == 60, "streaming runs are never retried")
    distribution_id = next(d["Id"] for d in cf.list_distributions()["DistributionList"]["Items"] if d["DomainName"] == outputs["distributionDomainName"]["value"])
    config = cf.get_distribution(Id=distribution_id)["Distribution"]["DistributionConfig"]
    origin = next(o for o in config["Origins"]["Items"] if o["Id"] == "chat-stream")
    check(origin["DomainName"] == f"{api['ApiId']}.execute-api.{REGION}.amazonaws.com" and not origin.get("OriginPath"), "/stream origin: the WebSocket API, no origin path")
    behaviour = next(b for b in config["CacheBehaviors"]["Items"] if b["PathPattern"] == "/stream")
    check(behaviour["TargetOriginId"] == "chat-stream" and behaviour["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac", "/stream without the Host header")
    check(outputs["StreamUrl"]["value"] == f"wss://{custom_domain}/stream", "StreamUrl output")


def assert_edge(aws: Callable[..., Any], outputs: dict[str, Any], zone_id: str, domain: str, synthesized: str) -> None:
    """The WAF on the distribution, the API key only CloudFront sends, the usage plan, the custom domain."""
    apigw, v2, cf = aws("apigateway"), aws("apigatewayv2"), aws("cloudfront")
    waf, acm = aws("wafv2", "us-east-1"), aws("acm", "us-east-1")
    [acl_summary] = waf.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
    acl = waf.get_web_acl(Name=acl_summary["Name"], Scope="CLOUDFRONT", Id=acl_summary["Id"])["WebACL"]
    acl["Rules"].sort(key=lambda r: r["Priority"])
    check([r["Name"] for r in acl["Rules"]] == ["allowed-ip-ranges", "allowed-countries", "aws-ip-reputation", "chat-rate-limit", "aws-common", "aws-known-bad-inputs"],
          f"WAF rules in order: {[r['Name'] for r in acl['Rules']]}")
    rate = next(r for r in acl["Rules"] if r["Name"] == "chat-rate-limit")
    check(rate["Statement"]["RateBasedStatement"]["Limit"] == 100 and rate["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429, "rate rule: 100 per 5 minutes, then 429")
    check(json.loads(acl["CustomResponseBodies"]["too-many-requests"]["Content"]).keys() == {"message"}, "the 429 body is {message}")
    distribution_id = next(d["Id"] for d in cf.list_distributions()["DistributionList"]["Items"] if d["DomainName"] == outputs["distributionDomainName"]["value"])
    config = cf.get_distribution(Id=distribution_id)["Distribution"]["DistributionConfig"]
    check(config["WebACLId"] == acl["ARN"], "the distribution carries the web ACL")

    key = next(k for k in apigw.get_api_keys(includeValues=True)["items"] if k["name"] == "chatbot-dev-cloudfront")
    for origin in (o for o in config["Origins"]["Items"] if o["Id"] in ("chat-api", "chat-stream")):
        headers = {h["HeaderName"]: h["HeaderValue"] for h in origin["CustomHeaders"].get("Items", [])}
        check(headers.get("x-api-key") == key["value"], f"CloudFront sends the API key to {origin['Id']}")
    check(len(key["value"]) >= 20 and key["value"] not in synthesized, "the key's value was generated by AWS and is nowhere in the synthesized JSON")
    [plan] = [p for p in apigw.get_usage_plans()["items"] if p["name"] == "chatbot-dev-cloudfront"]
    check((plan["quota"]["limit"], plan["quota"]["period"]) == (10000, "DAY"), f"daily quota of 10000: {plan['quota']}")
    rest_api = next(a for a in apigw.get_rest_apis()["items"] if a["name"] == "api-chatbot-dev")
    ws_api = next(a for a in v2.get_apis()["Items"] if a["Name"] == "api-chatbot-stream-dev")
    check(sorted((s["apiId"], s["stage"]) for s in plan["apiStages"]) == sorted([(rest_api["id"], "dev"), (ws_api["ApiId"], "stream")]), "the plan covers both stages")
    check([k["id"] for k in apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [key["id"]], "the key is in the plan")
    chat = next(r for r in apigw.get_resources(restApiId=rest_api["id"])["items"] if r.get("path") == "/chat")
    check(apigw.get_method(restApiId=rest_api["id"], resourceId=chat["id"], httpMethod="POST")["apiKeyRequired"] is True, "POST /chat requires the key")
    connect = next(r for r in v2.get_routes(ApiId=ws_api["ApiId"])["Items"] if r["RouteKey"] == "$connect")
    check(connect["ApiKeyRequired"] is True and ws_api["ApiKeySelectionExpression"] == "$request.header.x-api-key", "$connect requires the key")

    [certificate] = acm.list_certificates()["CertificateSummaryList"]
    check(certificate["DomainName"] == domain and acm.describe_certificate(CertificateArn=certificate["CertificateArn"])["Certificate"]["Status"] == "ISSUED", "certificate issued in us-east-1")
    check(config["Aliases"]["Items"] == [domain], "the distribution answers to the custom domain")
    viewer = config["ViewerCertificate"]
    check(viewer["ACMCertificateArn"] == certificate["CertificateArn"] and viewer["SSLSupportMethod"] == "sni-only" and viewer["MinimumProtocolVersion"] == "TLSv1.2_2021", "SNI and TLS 1.2 minimum")
    records = {(r["Name"], r["Type"]): r for r in aws("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]}
    for kind in ("A", "AAAA"):
        alias = records.get((f"{domain}.", kind), {}).get("AliasTarget", {})
        check(alias.get("DNSName", "").rstrip(".") == outputs["distributionDomainName"]["value"], f"{kind} alias record to the distribution")
    check(any(t == "CNAME" and n.startswith("_") for n, t in records), "DNS validation record")
    check(outputs["WebUrl"]["value"] == f"https://{domain}/chat.html" and domain in outputs["CurlExample"]["value"], "outputs use the custom domain")


def assert_operations(aws: Callable[..., Any], outputs: dict[str, Any], email: str) -> None:
    """Alarms and their encrypted topics, the e-mail subscriptions, the dashboard, tracing."""
    lam = aws("lambda")
    for region, topic_name, expected in ((REGION, "chatbot-dev-alarms", 10), ("us-east-1", "chatbot-dev-edge-alarms", 2)):
        sns, kms, cw = aws("sns", region), aws("kms", region), aws("cloudwatch", region)
        topic_arn = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(f":{topic_name}"))
        attributes = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
        key = kms.describe_key(KeyId=attributes["KmsMasterKeyId"])["KeyMetadata"]
        check(key["KeyManager"] == "CUSTOMER" and kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"], f"{topic_name} encrypted with a rotated customer-managed key")
        key_policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
        check(any(st.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for st in key_policy["Statement"]), f"CloudWatch may use {topic_name}'s key")
        publishers = sorted(st["Principal"]["Service"] for st in json.loads(attributes["Policy"])["Statement"])
        check(publishers == (["budgets.amazonaws.com", "cloudwatch.amazonaws.com"] if region == REGION else ["cloudwatch.amazonaws.com"]), f"only {publishers} publish to {topic_name}")
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        check([(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", email)], f"{email} subscribed to {topic_name}")
        alarms = [a for a in cw.describe_alarms(AlarmNamePrefix="chatbot-dev-")["MetricAlarms"]]
        check(len(alarms) == expected and all(a["AlarmActions"] == [topic_arn] == a["OKActions"] for a in alarms), f"{expected} alarms in {region} notify {topic_name}")
        check(all(a["TreatMissingData"] == "notBreaching" for a in alarms), f"alarms in {region} treat missing data as not breaching")
    cw = aws("cloudwatch")
    latency = cw.describe_alarms(AlarmNames=["chatbot-dev-model-latency-p90"])["MetricAlarms"][0]
    dimensions = sorted((d["Name"], d["Value"]) for d in latency["Dimensions"])
    check((latency.get("ExtendedStatistic"), latency["Threshold"], dimensions) == ("p90", 20_000_000, [("EndpointName", "falcon-chatbot-dev"), ("VariantName", "AllTraffic")]),
          f"model latency alarm in microseconds on the deployed endpoint: {latency.get('ExtendedStatistic')}, {latency['Threshold']}, {dimensions}")
    errors = cw.describe_alarms(AlarmNames=["chatbot-dev-stream-function-errors"])["MetricAlarms"][0]
    check(errors["Dimensions"] == [{"Name": "FunctionName", "Value": "lambda-chat-stream-dev"}], "function alarms watch this stack's functions")
    body = json.loads(cw.get_dashboard(DashboardName="chatbot-dev")["DashboardBody"])
    titles = [w["properties"].get("title", "") for w in body["widgets"]]
    check(len(body["widgets"]) == 9 and titles[-1] == "Latest function errors", f"dashboard widgets: {titles}")
    check(outputs["DashboardUrl"]["value"].endswith("#dashboards/dashboard/chatbot-dev"), "dashboard URL output")
    for name in ("lambda-chat-api-dev", "lambda-chat-stream-dev"):
        check(lam.get_function(FunctionName=name)["Configuration"]["TracingConfig"]["Mode"] == "Active", f"{name} traced by X-Ray")


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
