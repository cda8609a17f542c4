"""What the deploy rehearsal reads back of the optional parts: the model, streaming, the edge, operations.

The core (functions, REST API, site, CloudFront) is in deployed_shape.py, with `check`.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from deployed_shape import ACCOUNT, REGION, check, deployed_distribution, role_policy


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
    # The default deployed model: Falcon3-7B from the Hugging Face Hub (stacks/model/catalogue.ts).
    check(model["EnableNetworkIsolation"] is False, "Hub weights: the container may reach the Hub (no network isolation)")
    container = model["PrimaryContainer"]
    check(container["Image"] == f"763104351884.dkr.ecr.{REGION}.amazonaws.com/huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04", "TGI 3.3.6 image of the region's account")
    check("ModelDataSource" not in container and "ModelDataUrl" not in container, "no S3 model data: TGI downloads the weights")
    environment = container["Environment"]
    check(environment == {"HF_MODEL_ID": "tiiuae/Falcon3-7B-Instruct", "SM_NUM_GPUS": "1", "MAX_INPUT_TOKENS": "31744", "MAX_TOTAL_TOKENS": "32768"},
          f"TGI 3 environment of Falcon3-7B: {environment}")
    check(variant.get("ContainerStartupHealthCheckTimeoutInSeconds") == 1800, "the health check covers the Hub download (30 min)")
    role = iam.get_role(RoleName=f"{endpoint_name}-sagemaker")["Role"]
    check(model["ExecutionRoleArn"] == role["Arn"], "model uses its own execution role")
    statements = role_policy(iam, f"{endpoint_name}-sagemaker", "image-artifacts-logs-metrics")["Statement"]
    check([st["Sid"] for st in statements] == ["PullTheImage", "GetRegistryToken", "WriteOwnLogs", "PublishEndpointMetrics"], "execution role statements: no S3 access for Hub weights")
    check(not any("*" in action for st in statements for action in st["Action"]), "no wildcard action in the execution role")
    functions = aws("lambda")
    for name in ("lambda-chat-api-dev", "lambda-chat-stream-dev"):
        env = functions.get_function(FunctionName=name)["Configuration"]["Environment"]["Variables"]
        check((env["PAYLOAD_STYLE"], env["MODEL_TOKENIZER"], env["MODEL_MAX_INPUT_TOKENS"], env["MODEL_MAX_TOTAL_TOKENS"]) == ("messages", "falcon3", "31744", "32768")
              and "TOP_K" not in env, f"{name} talks to Falcon 3 through the Messages API with its 32K limits")
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
    notice = lam.get_function(FunctionName="lambda-chat-stream-dev-failed")["Configuration"]
    check(invoke_config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination") == notice["FunctionArn"],
          "dropped or failed streaming runs go to the failure notice")
    check(notice["Handler"] == "stream_failures.notice.lambda_handler"
          and notice["Environment"]["Variables"] == {"CONNECTIONS_ENDPOINT": env["CONNECTIONS_ENDPOINT"], "USAGE_TABLE": env["USAGE_TABLE"]},
          "failure notice handler, endpoint and the usage table it refunds in")
    check(statements["NotifyFailedRunsDestination"]["Resource"] == [notice["FunctionArn"]], "the stream function may invoke its failure notice")
    notice_policy = role_policy(iam, "lambda-chat-stream-dev-failed-role", "logs-and-connections")["Statement"]
    check(sorted(a for st in notice_policy for a in st["Action"]) == ["execute-api:ManageConnections", "logs:CreateLogStream", "logs:PutLogEvents"]
          and notice_policy[1]["Resource"] == statements["PostToOwnConnections"]["Resource"], "the failure notice may only log and post to this stage")
    [refund] = role_policy(iam, "lambda-chat-stream-dev-failed-role", "sign-in-refund")["Statement"]
    check(refund["Action"] == ["dynamodb:UpdateItem"] and refund["Resource"][0].endswith(f":table/{env['USAGE_TABLE']}"),
          "the failure notice may refund only in the usage table")
    notice_config = lam.get_function_event_invoke_config(FunctionName="lambda-chat-stream-dev-failed")
    check(notice_config["MaximumEventAgeInSeconds"] == 300, "an undeliverable failure notice is dropped after 5 minutes")
    config = deployed_distribution(cf, outputs)["DistributionConfig"]
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
    check(json.loads(acl["CustomResponseBodies"]["too-many-requests"]["Content"]).get("reason") == "rate_limited", "the 429 body is {message, reason: rate_limited}")
    config = deployed_distribution(cf, outputs)["DistributionConfig"]
    check(config["WebACLId"] == acl["ARN"], "the distribution carries the web ACL")

    key = next(k for k in apigw.get_api_keys(includeValues=True)["items"] if k["name"] == "chatbot-dev-cloudfront")
    for origin in (o for o in config["Origins"]["Items"] if o["Id"] in ("chat-api", "chat-stream")):
        headers = {h["HeaderName"]: h["HeaderValue"] for h in origin["CustomHeaders"].get("Items", [])}
        check(headers.get("x-api-key") == key["value"], f"CloudFront sends the API key to {origin['Id']}")
    check(len(key["value"]) >= 20 and key["value"] not in synthesized, "the key's value was generated by AWS and is nowhere in the synthesized JSON")
    [plan] = [p for p in apigw.get_usage_plans()["items"] if p["name"] == "chatbot-dev-cloudfront"]
    # With sign-in and saved conversations (rehearsed) the site-wide quota is the 150000 backstop (README "Sign-in").
    check((plan["quota"]["limit"], plan["quota"]["period"]) == (150000, "DAY"), f"daily quota of 150000: {plan['quota']}")
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
    # In the region: 13 for the chat paths and the model, 3 for the conversations function.
    for region, topic_name, expected in ((REGION, "chatbot-dev-alarms", 16), ("us-east-1", "chatbot-dev-edge-alarms", 2)):
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
    check(len(body["widgets"]) == 12 and titles[-1] == "Latest function errors", f"dashboard widgets: {titles}")
    not_running = cw.describe_alarms(AlarmNames=["chatbot-dev-model-not-running"])["MetricAlarms"][0]
    inputs = [q["MetricStat"]["Metric"] for q in not_running["Metrics"] if "MetricStat" in q]
    # metric_query is a set in the provider: the order the queries come back in is not theirs.
    counted = sorted((m["Namespace"], m["MetricName"], m["Dimensions"][0]["Value"]) for m in inputs)
    check(counted == [("FalconChatbot", "ModelNotRunning", "lambda-chat-api-dev"), ("FalconChatbot", "ModelNotRunning", "lambda-chat-stream-dev")],
          f"the model-not-running alarm counts both paths' 503s: {counted}")
    rate = cw.describe_alarms(AlarmNames=["chatbot-dev-stream-answers-5xx-rate"])["MetricAlarms"][0]
    check((rate["Namespace"], rate["MetricName"], rate["Statistic"], rate["Threshold"]) == ("FalconChatbot", "ServerErrors", "Average", 0.05),
          "the stream path's 5xx answer rate alarm")
    check(outputs["DashboardUrl"]["value"].endswith("#dashboards/dashboard/chatbot-dev"), "dashboard URL output")
    for name in ("lambda-chat-api-dev", "lambda-chat-stream-dev"):
        check(lam.get_function(FunctionName=name)["Configuration"]["TracingConfig"]["Mode"] == "Active", f"{name} traced by X-Ray")
