"""Deploy rehearsal: the real terraform and AWS provider against the moto AWS emulator.

Run: `npm run test:deploy`. Steps (each timed):
  1. start `moto.server` over HTTPS on a free 127.0.0.1 port (stopped on any exit);
  2. synthesize the dev stack from a copy of the project with the test-only emulator
     settings (provider and S3 backend endpoints) and an S3 state backend;
  3. create the state bucket, `terraform init` with the S3 backend (use_lockfile), `apply`;
  4. read the deployment back with boto3 and check its shape;
  5. `plan -detailed-exitcode`: nothing may change except the emulator deviations
     listed in EMULATOR_DEVIATIONS (each with its reason);
  6. edit one site file, re-synthesize: the plan changes exactly that object;
  7. `destroy`, then check through boto3 that nothing is left.

Why HTTPS: the site bucket's policy denies requests without TLS. moto is started
through scripts/moto_server.py, which evaluates that condition as AWS does for a
TLS request (moto alone would deny everything, see that file).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import ssl
from pathlib import Path
from typing import Any, Callable

from tfharness import ROOT, Timer, copy_project, log, prepare_stack, run, synth, terraform_env

REGION = "ap-northeast-2"
STATE_BUCKET = "chatbot-rehearsal-tfstate"
STACK = "chatbot-dev"
EDITED_FILE = "chat.js"

# Differences between what Terraform set and what moto reads back. Each is moto's,
# not the stack's: (resource type, attribute path regex, reason). Nothing else may change.
EMULATOR_DEVIATIONS: list[tuple[str, str, str]] = [
    ("aws_lambda_function", r"^logging_config", "moto does not store a function's LoggingConfig (JSON log format, log group)"),
    ("aws_cloudfront_distribution", r"^(default|ordered)_cache_behavior\.\d+\.forwarded_values",
     "moto returns legacy ForwardedValues on cache behaviors that use a cache policy"),
    ("aws_cloudfront_distribution", r"^origin\.\d+\.origin_access_control_id",
     "moto's GetDistribution omits an origin's OriginAccessControlId"),
    ("aws_cloudfront_distribution", r"^viewer_certificate\.\d+\.ssl_support_method",
     "moto reports SSLSupportMethod sni-only for the default CloudFront certificate"),
]

checks_passed = 0


def check(condition: bool, what: str) -> None:
    global checks_passed
    if not condition:
        raise AssertionError(f"deployed shape: {what}")
    checks_passed += 1


# ---------------------------------------------------------------- emulator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, so the emulator speaks HTTPS like AWS does."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "moto.crt", directory / "moto.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


class Moto:
    """moto.server (through scripts/moto_server.py) in its own process group; call stop()."""

    def __init__(self, work: Path) -> None:
        self.cert, key = self_signed_cert(work)
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true")
        self.log_file = open(work / "moto.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "moto_server.py"), "-H", "127.0.0.1", "-p", str(self.port), "-c", str(self.cert), "-k", str(key)],
            stdout=self.log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        context = ssl.create_default_context(cafile=str(self.cert))
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", context=context, timeout=2)
                return
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit(f"moto.server did not start; see {work / 'moto.log'}")
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log_file.close()


# ---------------------------------------------------------------- plan reading


def leaf_changes(before: Any, after: Any, path: str = "") -> list[str]:
    """Attribute paths (a.0.b) whose values differ between two plan values."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [c for k in sorted(set(before) | set(after)) for c in leaf_changes(before.get(k), after.get(k), f"{path}.{k}" if path else k)]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [c for i, (b, a) in enumerate(zip(before, after)) for c in leaf_changes(b, a, f"{path}.{i}")]
    empty = (None, [], {})
    return [] if before == after or (before in empty and after in empty) else [path]


def value_at(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            return None
    return value


def plan_changes(stack_dir: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Runs terraform plan and returns {address: {actions, paths, type}} for every resource that would change."""
    plan_file = stack_dir / "rehearsal.tfplan"
    result = subprocess.run(
        ["terraform", "plan", "-detailed-exitcode", "-input=false", "-no-color", f"-out={plan_file}"],
        cwd=stack_dir, env=env, text=True, capture_output=True,
    )
    if result.returncode not in (0, 2):
        sys.stdout.write(result.stdout + result.stderr)
        raise SystemExit("terraform plan failed")
    shown = json.loads(run(["terraform", "show", "-json", str(plan_file)], cwd=stack_dir, env=env).stdout)
    changes = {}
    for rc in shown.get("resource_changes", []):
        actions = rc["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        # Attributes AWS computes again on update (version_id, tags_all) are "known after apply".
        unknown_paths = leaf_changes({}, rc["change"].get("after_unknown") or {})
        paths = sorted(set(leaf_changes(rc["change"]["before"] or {}, rc["change"]["after"] or {})) - set(unknown_paths))
        before, after = rc["change"]["before"] or {}, rc["change"]["after"] or {}
        values = {p: (value_at(before, p), value_at(after, p)) for p in paths}
        changes[rc["address"]] = {"actions": actions, "paths": paths, "computed": unknown_paths, "type": rc["type"],
                                  "values": values, "after": after}
    if (result.returncode == 2) != bool(changes):
        raise SystemExit(f"plan exit code {result.returncode} disagrees with the changes read from the plan: {changes}")
    return changes


def unexplained(changes: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Changes not covered by EMULATOR_DEVIATIONS."""
    left: dict[str, list[str]] = {}
    for address, change in changes.items():
        if change["actions"] != ["update"]:
            left[address] = [f"action {change['actions']}"] + change["paths"]
            continue
        rest = [p for p in change["paths"] if not any(t == change["type"] and re.search(rx, p) for t, rx, _ in EMULATOR_DEVIATIONS)]
        if not change["paths"]:
            rest = ["update of computed values only: " + ", ".join(change["computed"])]
        if rest:
            left[address] = rest
    return left


# ---------------------------------------------------------------- the deployed shape


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


def assert_deployed(aws: Callable[[str], Any], outputs: dict[str, Any], state: dict[str, Any]) -> None:
    apigw, lam, logs, iam, s3, cf = (aws(s) for s in ("apigateway", "lambda", "logs", "iam", "s3", "cloudfront"))

    fn = lam.get_function(FunctionName="lambda-chat-api-dev")["Configuration"]
    check(fn["Runtime"] == "python3.13" and fn["Handler"] == "lambda_function.lambda_handler" and fn["Timeout"] == 120, "function runtime/handler/timeout")
    check(fn["Environment"]["Variables"]["endpoint"] == "jumpstart-dft-hf-llm-falcon-7b-instruct-bf16", "function env endpoint")

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
    check(actions == ["logs:CreateLogStream", "logs:PutLogEvents", "sagemaker:InvokeEndpoint"], f"function role actions {actions}")
    model_resources = [r for s in lambda_policy["Statement"] if s["Action"] == ["sagemaker:InvokeEndpoint"] for r in s["Resource"]]
    check(model_resources == [f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/jumpstart-dft-hf-llm-falcon-7b-instruct-bf16"], "function role endpoint ARN")
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


def assert_nothing_left(aws: Callable[[str], Any]) -> None:
    lam, apigw, iam, logs, s3, cf = (aws(s) for s in ("lambda", "apigateway", "iam", "logs", "s3", "cloudfront"))
    check(lam.list_functions()["Functions"] == [], "no Lambda function left")
    check(apigw.get_rest_apis()["items"] == [], "no REST API left")
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"] if not r["Path"].startswith("/aws-service-role/")]
    check(roles == [], f"no IAM role left: {roles}")
    check(logs.describe_log_groups()["logGroups"] == [], "no log group left")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    check(buckets == [STATE_BUCKET], f"only the state bucket left: {buckets}")
    check(cf.list_distributions()["DistributionList"].get("Items", []) == [], "no distribution left")
    check(cf.list_origin_access_controls()["OriginAccessControlList"].get("Items", []) == [], "no origin access control left")


# ---------------------------------------------------------------- main


def main() -> int:
    import boto3

    timer = Timer()
    with tempfile.TemporaryDirectory(prefix="deploy-rehearsal-") as tmp:
        work = Path(tmp)
        project = copy_project(work / "project")

        with timer.step("start moto.server (HTTPS)"):
            moto = Moto(work)
        try:
            creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
                     "AWS_REGION": REGION, "AWS_CA_BUNDLE": str(moto.cert)}
            os.environ.update(creds)
            aws = lambda service: boto3.client(service, endpoint_url=moto.url, region_name=REGION, verify=str(moto.cert))  # noqa: E731
            stack_env = {"CHATBOT_ENVIRONMENTS": "dev", "CHATBOT_AWS_ENDPOINT_URL": moto.url, "CHATBOT_BACKEND": "s3",
                         "CHATBOT_STATE_BUCKET": STATE_BUCKET}
            tf_env = terraform_env(work, creds)
            out = work / "cdktf.out"
            stack_dir = work / "tf" / STACK

            with timer.step("synthesize (emulator settings, S3 backend)"):
                synth(out, stack_env, project)
                prepare_stack(out / "stacks" / STACK, stack_dir)
            with timer.step("create the state bucket"):
                aws("s3").create_bucket(Bucket=STATE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
            with timer.step("terraform init (S3 backend on the emulator)"):
                run(["terraform", "init", "-input=false", "-no-color"], cwd=stack_dir, env=tf_env)
                backend = json.loads((stack_dir / ".terraform" / "terraform.tfstate").read_text())["backend"]
                check(backend["type"] == "s3" and backend["config"]["use_lockfile"] is True, "S3 backend with use_lockfile")
            with timer.step("terraform apply"):
                run(["terraform", "apply", "-auto-approve", "-input=false", "-no-color"], cwd=stack_dir, env=tf_env)
                state_keys = [o["Key"] for o in aws("s3").list_objects_v2(Bucket=STATE_BUCKET).get("Contents", [])]
                check(state_keys == ["chatbot/dev/terraform.tfstate"], f"state stored in the S3 backend: {state_keys}")
            with timer.step("check the deployed shape through boto3"):
                outputs = json.loads(run(["terraform", "output", "-json"], cwd=stack_dir, env=tf_env).stdout)
                state = json.loads(run(["terraform", "show", "-json"], cwd=stack_dir, env=tf_env).stdout)
                assert_deployed(aws, outputs, state)
            with timer.step("terraform plan: no change after apply"):
                changes = plan_changes(stack_dir, tf_env)
                for address, change in changes.items():
                    for path, (before, after) in change["values"].items():
                        log(f"    {address}: {path}: {json.dumps(before)} -> {json.dumps(after)}")
                left = unexplained(changes)
                if left:
                    raise AssertionError(f"plan after apply changes more than the listed emulator deviations: {left}")
            with timer.step(f"edit site/{EDITED_FILE}: plan changes exactly that object"):
                with open(project / "site" / EDITED_FILE, "a") as f:
                    f.write("\n// edited by the deploy rehearsal\n")
                synth(out, stack_env, project)
                prepare_stack(out / "stacks" / STACK, stack_dir, keep_init=True)
                changes = plan_changes(stack_dir, tf_env)
                left = unexplained(changes)
                edited = list(left)
                check(len(edited) == 1 and "aws_s3_object" in edited[0], f"only one object changes: {left}")
                check(set(left[edited[0]]) == {"source", "source_hash"}, f"the object's source and hash change: {left}")
                check(changes[edited[0]]["after"]["key"] == EDITED_FILE, f"the changed object is {EDITED_FILE}")
            with timer.step("terraform destroy"):
                run(["terraform", "destroy", "-auto-approve", "-input=false", "-no-color"], cwd=stack_dir, env=tf_env)
            with timer.step("check nothing is left through boto3"):
                assert_nothing_left(aws)
        finally:
            moto.stop()

    log("\nDeploy rehearsal step durations:\n" + timer.summary())
    log(f"emulator deviations allowed: {len(EMULATOR_DEVIATIONS)}")
    for kind, path, reason in EMULATOR_DEVIATIONS:
        log(f"  {kind} {path}: {reason}")
    log(f"deploy rehearsal: {checks_passed} passed, 0 failed")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except AssertionError as error:
        log(f"FAIL {error}")
        log(f"deploy rehearsal: {checks_passed} passed, 1 failed")
        raise SystemExit(1)
