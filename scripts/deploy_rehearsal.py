"""Deploy rehearsal: the real terraform and AWS provider against the moto AWS emulator.

Run: `npm run test:deploy`. Steps (each timed):
  1. start `moto.server` over HTTPS on a free 127.0.0.1 port (stopped on any exit);
  2. synthesize the dev stack from a copy of the project with the test-only emulator
     settings (provider and S3 backend endpoints), an S3 state backend, and every optional
     part the emulator can run switched on (REHEARSED_SETTINGS);
  3. create the state bucket, `terraform init` with the S3 backend (use_lockfile), `apply`
     the account stack (API Gateway's CloudWatch role), then the dev stack;
  4. read the deployment back with boto3 and check its shape (deployed_shape.py, deployed_features.py);
  5. edit one site file and change the model's instance type, re-synthesize, and
     `plan -detailed-exitcode` both stacks side by side, reading every resource back: the
     account stack plans nothing; the dev stack changes exactly that object, updates the
     endpoint in place with a new configuration (Terraform's apply graph deregistering
     autoscaling before the update; moto has no UpdateEndpoint, so this step stops at the
     plan), and nothing else except the emulator deviations listed in EMULATOR_DEVIATIONS
     (each with its reason);
  6. `destroy` the dev stack: the account's role setting must survive it; then destroy the
     account stack and check through boto3 that nothing is left.

Why HTTPS: the site bucket's policy denies requests without TLS. moto is started
through scripts/moto_server.py, which evaluates that condition as AWS does for a
TLS request and fills the gaps listed there.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import deployed_conversations as conversations
import deployed_features as features
import deployed_shape as shape
import deployed_signin as signin
from deployed_shape import REGION, STATE_BUCKET, check
from emulator import Moto
from plan_reading import apply_order, plan_changes, unexplained, waits_for
from tfharness import Timer, copy_project, log, prepare_stack, run, synth, terraform_env

STACK = "chatbot-dev"
# What the account and region share (API Gateway's CloudWatch role): applied first, destroyed last.
ACCOUNT_STACK = f"chatbot-account-{REGION}"
EDITED_FILE = "chat.js"
ENDPOINT = "falcon-chatbot-dev"
INSTANCE_TYPE, NEW_INSTANCE_TYPE = "ml.g5.2xlarge", "ml.g5.4xlarge"
# What an instance-type change may touch: the configuration, the endpoint and autoscaling.
MODEL_TYPES = ["aws_appautoscaling_policy", "aws_appautoscaling_target", "aws_sagemaker_endpoint", "aws_sagemaker_endpoint_configuration"]

DOMAIN = "chat.rehearsal.example"

# Optional parts switched on for the rehearsal, on top of the defaults (streaming, the
# WAF and CloudFront-only APIs are on by default). The hosted zone is created first.
REHEARSED_SETTINGS = {
    "CHATBOT_MODEL_DEPLOY": "true",
    "CHATBOT_ALLOWED_IP_RANGES": "203.0.113.0/24,2001:db8::/32",
    "CHATBOT_ALLOWED_COUNTRIES": "KR",
    "CHATBOT_DOMAIN_NAME": DOMAIN,
    "CHATBOT_TRACING": "true",
    "CHATBOT_ALARM_EMAIL": "ops@rehearsal.example",
    "CHATBOT_BUDGET_MONTHLY_USD": "1500",
    # Sign-in is on by default; these add the pre-sign-up trigger and TOTP.
    "CHATBOT_SELF_SIGN_UP": "true",
    "CHATBOT_ALLOWED_EMAIL_DOMAINS": "rehearsal.example",
    "CHATBOT_MFA": "optional",
    # Saved conversations are on with sign-in; a retention adds the table's TTL.
    "CHATBOT_CONVERSATION_RETENTION_DAYS": "30",
}

# Resources moto cannot apply, taken out of the synthesized stack before `init`, each
# with its reason (printed). jest and `terraform validate` still cover them.
EMULATOR_GAPS: dict[str, str] = {
    "aws_cloudwatch_query_definition": "moto 5.2 does not implement PutQueryDefinition (saved Logs Insights queries)",
    "aws_budgets_budget": "moto 5.2 does not implement DescribeSubscribersForNotification, which the provider reads after creating a budget",
}

# Arguments the rehearsal sets on top of the synthesized stack, each with its reason
# (printed): (resource type, argument, value, reason). Only what changes how long the
# provider waits, never what it creates.
EMULATOR_SETTINGS: list[tuple[str, str, Any, str]] = [
    ("aws_cloudfront_distribution", "wait_for_deployment", False,
     "the provider's waiter sleeps before its first look (30 s here; Delay in the provider's "
     "waitDistributionDeployed), and moto's distribution is deployed at once; the stack keeps "
     "the default (true), so a real apply ends when CloudFront serves the new configuration"),
]

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
    ("aws_cloudfront_distribution", r"^viewer_certificate\.\d+\.cloudfront_default_certificate",
     "moto reports CloudFrontDefaultCertificate true beside an ACM certificate"),
    ("aws_cognito_user_pool_domain", r"^managed_login_version",
     "moto's DescribeUserPoolDomain does not return ManagedLoginVersion"),
]


# The provider sometimes loses moto's answer to a create and sends it again, and the second
# one finds the first: "already exists" for a resource Terraform itself created a moment
# earlier (seen for a usage plan, a KMS alias, a Lambda function, a Cognito group).
# scripts/moto_server.py answers such a repeat with its first answer (same
# amz-sdk-invocation-id); should one still get through, it is the emulator's, never the
# stack's, so the rehearsal starts over once on a fresh emulator; any other failure, or the
# same one twice, fails it.
DUPLICATE_CREATE = re.compile(r"AlreadyExistsException|GroupExistsException|ResourceConflictException: Function already exist|already exists")


class EmulatorDuplicate(Exception):
    """An apply failed only because the emulator created one resource twice."""


def apply(directory: Path, env: dict[str, str]) -> None:
    result = run(["terraform", "apply", "-auto-approve", "-input=false", "-no-color"], cwd=directory, env=env, capture=True)
    if result.returncode == 0:
        return
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error:")]
    if errors and all(DUPLICATE_CREATE.search(line) for line in errors):
        raise EmulatorDuplicate("; ".join(errors))
    raise SystemExit(f"FAILED ({result.returncode}): terraform apply in {directory}")


def leave_out(doc: dict[str, Any], gaps: dict[str, str]) -> dict[str, int]:
    """Removes the resource types the emulator cannot apply from a stack's Terraform JSON;
    returns how many of each went. Nothing may refer to them."""
    removed = {kind: len(doc["resource"].pop(kind, {})) for kind in gaps}
    text = json.dumps(doc)
    dangling = [kind for kind in gaps if f"{kind}." in text]
    if dangling:
        raise SystemExit(f"resources left out of the rehearsal are still referred to: {dangling}")
    return removed


def emulator_settings(doc: dict[str, Any], settings: list[tuple[str, str, Any, str]]) -> list[str]:
    """Sets each (type, argument, value) on every resource of that type; returns what it set."""
    applied = []
    for kind, argument, value, _ in settings:
        for name, resource in doc["resource"].get(kind, {}).items():
            resource[argument] = value
            applied.append(f"{kind}.{name}.{argument} = {json.dumps(value)}")
    return applied


def show_changes(changes: dict[str, dict]) -> None:
    for address, change in changes.items():
        replaced = f" (replaced for {', '.join(change['replace_paths'])})" if change["replace_paths"] else ""
        log(f"    {address}: {'/'.join(change['actions'])}{replaced}")
        for path, (before, after) in change["values"].items():
            log(f"      {path}: {json.dumps(before)} -> {json.dumps(after)}")


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
            def aws(service: str, region: str = REGION):
                return boto3.client(service, endpoint_url=moto.url, region_name=region, verify=str(moto.cert))

            zone_id = aws("route53").create_hosted_zone(Name=DOMAIN, CallerReference="rehearsal")["HostedZone"]["Id"].split("/")[-1]
            stack_env = {"CHATBOT_ENVIRONMENTS": "dev", "CHATBOT_AWS_ENDPOINT_URL": moto.url, "CHATBOT_BACKEND": "s3",
                         "CHATBOT_STATE_BUCKET": STATE_BUCKET, "CHATBOT_HOSTED_ZONE_ID": zone_id, **REHEARSED_SETTINGS}
            # One provider copy for both stacks: the second init links it instead of unpacking it again.
            (work / "plugin-cache").mkdir()
            tf_env = terraform_env(work, {**creds, "TF_PLUGIN_CACHE_DIR": str(work / "plugin-cache")})
            out = work / "cdktf.out"
            stack_dir = work / "tf" / STACK
            account_dir = work / "tf" / ACCOUNT_STACK

            def resynth(extra: dict[str, str] | None = None) -> dict[str, int]:
                stacks = synth(out, {**stack_env, **(extra or {})}, project)
                check(stacks == [ACCOUNT_STACK, STACK], f"the dev stack and its account stack are synthesized: {stacks}")
                prepare_stack(out / "stacks" / ACCOUNT_STACK, account_dir, keep_init=True)
                prepare_stack(out / "stacks" / STACK, stack_dir, keep_init=True)
                tf_json = stack_dir / "cdk.tf.json"
                doc = json.loads(tf_json.read_text())
                gaps = leave_out(doc, EMULATOR_GAPS)
                settings = emulator_settings(doc, EMULATOR_SETTINGS)
                check(len(settings) == len(EMULATOR_SETTINGS), f"every emulator setting found its resource: {settings}")
                tf_json.write_text(json.dumps(doc, indent=2))
                return gaps

            with timer.step("synthesize (emulator settings, S3 backend)"):
                for kind, count in resynth().items():
                    log(f"    left out of the rehearsal: {count} {kind} ({EMULATOR_GAPS[kind]})")
                for kind, argument, value, reason in EMULATOR_SETTINGS:
                    log(f"    set for the rehearsal: {kind}.{argument} = {json.dumps(value)} ({reason})")
            with timer.step("create the state bucket"):
                aws("s3").create_bucket(Bucket=STATE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
            with timer.step("terraform init, both stacks (S3 backend on the emulator)"):
                for directory in (account_dir, stack_dir):
                    run(["terraform", "init", "-input=false", "-no-color"], cwd=directory, env=tf_env)
                    backend = json.loads((directory / ".terraform" / "terraform.tfstate").read_text())["backend"]
                    check(backend["type"] == "s3" and backend["config"]["use_lockfile"] is True, f"S3 backend with use_lockfile ({directory.name})")
            def stored_state(key: str) -> dict:
                # The state file as the S3 backend stored it: its outputs and resources, read
                # without another terraform command (each starts the AWS provider, seconds of CPU).
                return json.loads(aws("s3").get_object(Bucket=STATE_BUCKET, Key=key)["Body"].read())

            with timer.step(f"terraform apply {ACCOUNT_STACK}"):
                apply(account_dir, tf_env)
                account_role = stored_state(f"chatbot/{ACCOUNT_STACK}/terraform.tfstate")["outputs"]["ApiGatewayCloudwatchRoleArn"]["value"]
                shape.assert_account(aws, account_role)
            with timer.step(f"terraform apply {STACK}"):
                apply(stack_dir, tf_env)
                state_keys = sorted(o["Key"] for o in aws("s3").list_objects_v2(Bucket=STATE_BUCKET).get("Contents", []))
                check(state_keys == [f"chatbot/{ACCOUNT_STACK}/terraform.tfstate", "chatbot/dev/terraform.tfstate"], f"state of both stacks stored in the S3 backend: {state_keys}")
            with timer.step("check the deployed shape through boto3"):
                state = stored_state("chatbot/dev/terraform.tfstate")
                outputs = state["outputs"]
                shape.assert_core(aws, outputs, state, ENDPOINT, tracing=REHEARSED_SETTINGS["CHATBOT_TRACING"] == "true")
                features.assert_model(aws, ENDPOINT, INSTANCE_TYPE)
                features.assert_stream(aws, outputs, DOMAIN)
                features.assert_edge(aws, outputs, zone_id, DOMAIN, (stack_dir / "cdk.tf.json").read_text())
                features.assert_operations(aws, outputs, "ops@rehearsal.example")
                signin.assert_signin(aws, outputs, DOMAIN)
                conversations.assert_conversations(aws, outputs, int(REHEARSED_SETTINGS["CHATBOT_CONVERSATION_RETENTION_DAYS"]))
            with timer.step(f"edit site/{EDITED_FILE} and change the model instance type {INSTANCE_TYPE} -> {NEW_INSTANCE_TYPE}; "
                            "plan both stacks side by side"):
                # One plan of the dev stack both reads every resource back after the apply
                # and plans two code changes: it may change exactly the edit's resources (each
                # only as the edit says) and the listed emulator deviations. Anything else is
                # a stack that does not hold still after its own apply. (A plan each, before
                # and after the edit, would cost the provider's minute of CPU twice.)
                edited_file = project / "site" / EDITED_FILE
                original = edited_file.read_bytes()
                edited_file.write_bytes(original + b"\n// edited by the deploy rehearsal\n")
                resynth({"CHATBOT_MODEL_INSTANCE_TYPE": NEW_INSTANCE_TYPE})
                edited_file.write_bytes(original)
                # Two independent read-only plans: while one waits on the emulator, the other runs.
                with ThreadPoolExecutor(max_workers=2) as pool:
                    account_plan = pool.submit(plan_changes, account_dir, tf_env)
                    changes = plan_changes(stack_dir, tf_env)
                    account_changes = account_plan.result()
                check(account_changes == {}, f"the account stack plans no change after its apply: {list(account_changes)}")
                show_changes(changes)
                left = unexplained(changes, EMULATOR_DEVIATIONS)
                objects = [address for address in left if changes[address]["type"] == "aws_s3_object"]
                model_changes = {address: paths for address, paths in left.items() if changes[address]["type"] in MODEL_TYPES}
                drift = {address: paths for address, paths in left.items() if address not in objects and address not in model_changes}
                check(not drift, f"after its apply the stack plans no change beyond the edit and the listed emulator deviations: {drift}")
                check(len(objects) == 1, f"the site edit changes one object: {objects}")
                check(set(left[objects[0]]) == {"source", "source_hash"}, f"the object's source and hash change: {left[objects[0]]}")
                check(changes[objects[0]]["after"]["key"] == EDITED_FILE, f"the changed object is {EDITED_FILE}")
                check_instance_type_update(changes, model_changes, apply_order(stack_dir, tf_env))
            # Destroys without reading every resource back first: the plans above just did.
            with timer.step(f"terraform destroy {STACK}"):
                run(["terraform", "destroy", "-auto-approve", "-refresh=false", "-input=false", "-no-color"], cwd=stack_dir, env=tf_env)
                shape.assert_account(aws, account_role)
            with timer.step(f"terraform destroy {ACCOUNT_STACK}"):
                run(["terraform", "destroy", "-auto-approve", "-refresh=false", "-input=false", "-no-color"], cwd=account_dir, env=tf_env)
                check(not aws("apigateway").get_account().get("cloudwatchRoleArn"), "destroying the account stack clears the account's CloudWatch role setting")
            with timer.step("check nothing is left through boto3"):
                shape.assert_nothing_left(aws, zone_id)
        except BaseException:
            # The emulator's side of a failure (its errors, what it was asked last) is in its log.
            lines = (work / "moto.log").read_text(errors="replace").splitlines()
            log("moto.server's last log lines:\n" + "\n".join(lines[-60:]))
            raise
        finally:
            moto.stop()

    log("\nDeploy rehearsal step durations:\n" + timer.summary())
    log(f"left out of the rehearsal: {len(EMULATOR_GAPS)} resource types")
    for kind, reason in EMULATOR_GAPS.items():
        log(f"  {kind}: {reason}")
    log(f"emulator deviations allowed: {len(EMULATOR_DEVIATIONS)}")
    for kind, path, reason in EMULATOR_DEVIATIONS:
        log(f"  {kind} {path}: {reason}")
    log(f"deploy rehearsal: {shape.checks_passed} passed, 0 failed")
    return 0


def check_instance_type_update(changes: dict[str, dict], left: dict[str, list[str]], waits: dict[str, set[str]]) -> None:
    """A new endpoint configuration beside the old, an in-place endpoint update, autoscaling re-registered first."""
    by_type: dict[str, list[tuple[str, dict]]] = {}
    for address in left:
        by_type.setdefault(changes[address]["type"], []).append((address, changes[address]))
    check(sorted(by_type) == MODEL_TYPES, f"an instance-type change touches the configuration, the endpoint and autoscaling: {sorted(by_type)}")
    [(config_address, config)] = by_type["aws_sagemaker_endpoint_configuration"]
    check(config["actions"] == ["create", "delete"], f"the new endpoint configuration is created before the old is deleted: {config['actions']}")
    check(config["values"]["production_variants.0.instance_type"] == (INSTANCE_TYPE, NEW_INSTANCE_TYPE), "the configuration carries the new instance type")
    [(endpoint_address, endpoint)] = by_type["aws_sagemaker_endpoint"]
    check(endpoint["actions"] == ["update"], f"the endpoint is updated in place, never replaced: {endpoint['actions']}")
    # The new configuration's name is generated, so the plan shows it as known after apply.
    check(endpoint["paths"] == [] and "endpoint_config_name" in endpoint["computed"], f"only its configuration name changes: {endpoint}")
    [(target_address, target)] = by_type["aws_appautoscaling_target"]
    [(policy_address, policy)] = by_type["aws_appautoscaling_policy"]
    check(target["actions"] == ["delete", "create"] and policy["actions"] == ["delete", "create"], "autoscaling is re-registered")
    # AWS refuses an UpdateEndpoint that changes the instance type of a registered variant.
    check(waits_for(waits, endpoint_address, f"{target_address} (destroy)"), "the endpoint update waits for autoscaling to be deregistered")
    check(waits_for(waits, endpoint_address, f"{policy_address} (destroy)"), "the endpoint update waits for the scaling policy to be deleted")
    check(waits_for(waits, target_address, endpoint_address), "autoscaling is registered again after the endpoint update")
    check(waits_for(waits, f"{config_address} (destroy deposed)", endpoint_address) or any(
        waits_for(waits, node, endpoint_address) for node in waits if node.startswith(f"{config_address} (destroy deposed")),
        "the old configuration is deleted only after the endpoint moved off it")


if __name__ == "__main__":
    try:
        try:
            raise SystemExit(main())
        except EmulatorDuplicate as duplicate:
            log(f"the emulator created a resource twice ({duplicate}); starting over once on a fresh emulator")
            shape.checks_passed = 0
            raise SystemExit(main())
    except AssertionError as error:
        log(f"FAIL {error}")
        log(f"deploy rehearsal: {shape.checks_passed} passed, 1 failed")
        raise SystemExit(1)
