"""moto.server for the deploy rehearsal, with the corrections the stack needs to be emulated.

Each correction makes moto behave as AWS documents; none makes a test pass that AWS
would fail. Usage: python3 scripts/moto_server.py <moto.server arguments>

1. S3 bucket policies. moto 5 evaluates a bucket policy without the request's context
   and treats a Deny statement whose condition does not hold as a denial anyway: a
   statement such as `Deny s3:* if aws:SecureTransport is false` denies every request,
   so Terraform cannot even read back the objects it uploaded. AWS evaluates that
   condition per request; the rehearsal talks to this server over HTTPS only, so Deny
   statements whose `Bool` conditions are false for a TLS request are left out before
   moto evaluates the policy.
2. SageMaker instance types. moto's CreateEndpointConfig accepts only a fixed list of
   instance types without the ml.g5 and ml.p4d GPU families JumpStart runs Falcon on;
   those are accepted too.
3. SageMaker network isolation. moto's CreateModel drops EnableNetworkIsolation (every
   model reads back false, so Terraform would plan to replace it); it is stored.
4. SageMaker empty blocks and the deployment configuration. moto answers
   DescribeModel with `VpcConfig: {}` and DescribeEndpointConfig/DescribeEndpoint with
   `DataCaptureConfig: {}` where AWS leaves out what was never set (Terraform would
   replace the model and the configuration on every plan), and drops CreateEndpoint's
   DeploymentConfig, which DescribeEndpoint returns on AWS.
5. Application Auto Scaling tags. moto has no ListTagsForResource (the provider reads
   tags after RegisterScalableTarget and retries for minutes, then fails) and ignores
   the Tags of RegisterScalableTarget; both are implemented over a tag store.
6. API Gateway account reset. The provider clears the account's CloudWatch role (the
   account stack's `reset_on_delete`) with UpdateAccount `replace /cloudwatchRoleArn` and
   no value; moto reads the missing value with a KeyError and answers 500, which the
   provider retries for minutes. A replace without a value clears the setting.
7. One request at a time, each call answered once (the harness's, not AWS's: see the
   end of this file). moto's backends are not thread-safe, so requests run behind a
   lock; and when the provider loses an answer on this loaded machine and retries, the
   retry (same `amz-sdk-invocation-id`) gets moto's first answer again instead of a
   second create that fails with "already exists".
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

from moto.apigateway.models import Account
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.core.responses import ActionResult
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.models import FakeBucket
from moto.sagemaker.models import FakeEndpointConfig, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.server import main

# ---------------------------------------------------------------- 1. S3 bucket policies

REQUEST_CONTEXT = {"aws:securetransport": "true"}


def applies_to_tls_request(statement: dict[str, Any]) -> bool:
    """False for a Deny statement whose Bool condition a TLS request does not meet."""
    if statement.get("Effect") != "Deny":
        return True
    for key, expected in statement.get("Condition", {}).get("Bool", {}).items():
        actual = REQUEST_CONTEXT.get(key.lower())
        values = expected if isinstance(expected, list) else [expected]
        if actual is not None and all(str(v).lower() != actual for v in values):
            return False
    return True


def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(self.policy.decode())
    statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    policy["Statement"] = [s for s in statements if applies_to_tls_request(s)]
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)


FakeBucket.get_permission = get_permission  # type: ignore[method-assign]

# ---------------------------------------------------------------- 2. SageMaker GPU instance types

GPU_INSTANCE_TYPES = {
    *(f"ml.g5.{size}" for size in ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge")),
    "ml.p4d.24xlarge",
}
_validate_instance_type = FakeEndpointConfig.validate_instance_type


def validate_instance_type(self: FakeEndpointConfig, instance_type: str) -> None:
    if instance_type not in GPU_INSTANCE_TYPES:
        _validate_instance_type(self, instance_type)


FakeEndpointConfig.validate_instance_type = validate_instance_type  # type: ignore[method-assign]

# ---------------------------------------------------------------- 3. SageMaker network isolation

_create_model = SageMakerResponse.create_model


def create_model(self: SageMakerResponse) -> Any:
    result = _create_model(self)
    model = sagemaker_backends[self.current_account][self.region].describe_model(self._get_param("ModelName"))
    model.enable_network_isolation = bool(self._get_param("EnableNetworkIsolation", False))
    return result


SageMakerResponse.create_model = create_model  # type: ignore[method-assign]

# ---------------------------------------------------------------- 4. SageMaker empty blocks, deployment configuration

# Endpoint name -> the DeploymentConfig it was created (or last updated) with.
_deployment_configs: dict[str, Any] = {}


def _without_empty(result: ActionResult, *keys: str) -> ActionResult:
    body = dict(result.result)  # type: ignore[call-overload]
    for key in keys:
        if body.get(key) in ({}, None):
            body.pop(key, None)
    return ActionResult(body)


def _wrap(name: str, after: Callable[[SageMakerResponse, ActionResult], ActionResult]) -> None:
    original = getattr(SageMakerResponse, name)
    setattr(SageMakerResponse, name, lambda self: after(self, original(self)))


def _remember_deployment_config(self: SageMakerResponse, result: ActionResult) -> ActionResult:
    if self._get_param("DeploymentConfig"):
        _deployment_configs[self._get_param("EndpointName")] = self._get_param("DeploymentConfig")
    return result


def _describe_endpoint(self: SageMakerResponse, result: ActionResult) -> ActionResult:
    result = _without_empty(result, "DataCaptureConfig")
    config = _deployment_configs.get(self._get_param("EndpointName"))
    return ActionResult({**result.result, "DeploymentConfig": config}) if config else result  # type: ignore[dict-item]


_wrap("describe_model", lambda self, result: _without_empty(result, "VpcConfig"))
_wrap("describe_endpoint_config", lambda self, result: _without_empty(result, "DataCaptureConfig"))
_wrap("create_endpoint", _remember_deployment_config)
_wrap("describe_endpoint", _describe_endpoint)

# ---------------------------------------------------------------- 5. Application Auto Scaling tags

# Scalable target ARN -> tags. Deregistering a target leaves its entry, as AWS forgets
# tags with the resource: a new registration gets a new ARN.
_tags: dict[str, dict[str, str]] = {}
_register = ApplicationAutoScalingResponse.register_scalable_target


def register_scalable_target(self: ApplicationAutoScalingResponse) -> str:
    result = _register(self)
    _tags.setdefault(json.loads(result)["ScalableTargetARN"], {}).update(self._get_param("Tags") or {})
    return result


def list_tags_for_resource(self: ApplicationAutoScalingResponse) -> str:
    return json.dumps({"Tags": _tags.get(self._get_param("ResourceARN"), {})})


def tag_resource(self: ApplicationAutoScalingResponse) -> str:
    _tags.setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
    return json.dumps({})


def untag_resource(self: ApplicationAutoScalingResponse) -> str:
    for key in self._get_param("TagKeys") or []:
        _tags.get(self._get_param("ResourceARN"), {}).pop(key, None)
    return json.dumps({})


ApplicationAutoScalingResponse.register_scalable_target = register_scalable_target  # type: ignore[method-assign]
ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource  # type: ignore[attr-defined]
ApplicationAutoScalingResponse.tag_resource = tag_resource  # type: ignore[attr-defined]
ApplicationAutoScalingResponse.untag_resource = untag_resource  # type: ignore[attr-defined]

# ---------------------------------------------------------------- 6. API Gateway account reset

_apply_account_patch = Account.apply_patch_operations


def apply_account_patch(self: Account, patch_operations: list[dict[str, Any]]) -> Account:
    return _apply_account_patch(self, [{**op, "value": op.get("value")} if op.get("path") == "/cloudwatchRoleArn" else op for op in patch_operations])


Account.apply_patch_operations = apply_account_patch  # type: ignore[method-assign]

# ---------------------------------------------------------------- last: one request at a time

# moto's backends are not safe for concurrent access (getmoto/moto#7166 documents it), and
# moto.server serves every request on its own thread. With terraform's ten parallel
# operations, two API Gateway or KMS calls at once sometimes raced and the stack held a
# duplicate (two usage plans of one name). So moto's application runs one request at a
# time, behind a lock; the connections stay a thread each, with HTTP/1.1 keep-alive.
#
# And a call is answered once. Under CPU load the provider sometimes loses an answer moto
# has sent (its debug log: CreateFunction's first attempt ends in a transport error 0.1 s
# after it was sent; moto's log: 201 for it, then 409 "Function already exist" for the
# retry), and it sends the call again. AWS SDKs send the same `amz-sdk-invocation-id` header
# on every attempt of one call (aws-sdk-go-v2's retry middleware sets it once per operation,
# `amz-sdk-request: attempt=N` counts the attempts), so a repeat of a call moto already ran
# gets that first answer again, as the lost one would have been, instead of running twice.
import threading  # noqa: E402
from collections import OrderedDict  # noqa: E402

import moto.server as _moto_server  # noqa: E402

_one_request_at_a_time = threading.Lock()
# invocation id -> (status, headers, body) of the answer moto gave it; the latest few thousand.
_answers: "OrderedDict[str, tuple[str, list[tuple[str, str]], list[bytes]]]" = OrderedDict()
_ANSWERS_KEPT = 5000


def _serialized(app: Any) -> Any:
    def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
        with _one_request_at_a_time:
            if invocation in _answers:
                status, headers, body = _answers[invocation]
                start_response(status, headers)
                return body
            started: list[tuple[str, list[tuple[str, str]]]] = []

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                started.append((status, headers))
                return start_response(status, headers, exc_info)

            response = app(environ, capture)
            try:
                body = list(response)  # the whole answer made under the lock
            finally:
                getattr(response, "close", lambda: None)()
            if invocation and started:
                _answers[invocation] = (*started[-1], body)
                while len(_answers) > _ANSWERS_KEPT:
                    _answers.popitem(last=False)
            return body
    return application


_run_simple = _moto_server.run_simple
_moto_server.run_simple = lambda host, port, app, **kwargs: _run_simple(host, port, _serialized(app), **kwargs)

if __name__ == "__main__":
    main(sys.argv[1:])
