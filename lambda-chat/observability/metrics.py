"""One metric line per answer, in CloudWatch's embedded metric format (EMF).

Both paths end every request here: POST /chat (lambda_function), the WebSocket routes
and stream jobs (stream_function, stream_job) and the stream jobs Lambda gave up on
(stream_failures). A stream job reports its failures as `error` frames and returns
normally, so Lambda's own Errors metric never sees them; these lines do.

The line is a JSON object whose `_aws` member tells CloudWatch Logs which of its keys
are metrics, in which namespace and with which dimensions; CloudWatch extracts them
from the function's log without any API call or permission beyond writing the log.
Specification: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
On Lambda, EMF lines go to standard output as they are:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html
(written to sys.stdout directly, not through `logging`, whose JSON format would wrap them).

Metrics, namespace NAMESPACE, dimension FunctionName (the function that answered;
stacks/operations/ reads the same names):
    Answers           1 per answer delivered (status 200)
    Failures          1 per failure; also with the dimensions FunctionName, Status
    ServerErrors      1 per 5xx failure, 0 otherwise: its average is the 5xx rate
    ModelNotRunning   1 per 503 (the model is not running), 0 otherwise
    TimeToFirstToken  ms from accepting the request to the first token (streaming only)
    GeneratedTokens   tokens the model generated, when it reports them
"""

import json
import os
import sys
import time
from typing import Any

NAMESPACE = "FalconChatbot"


def outcome_line(status: int, function_name: str, reason: str | None = None,
                 first_token_ms: int | None = None, generated_tokens: int | None = None,
                 now_ms: int | None = None) -> dict[str, Any]:
    """The EMF object for one answer (status 200) or one failure (any other status)."""
    ok = status == 200
    values: dict[str, Any] = {"Answers": 1 if ok else 0, "Failures": 0 if ok else 1,
                              "ServerErrors": 1 if status >= 500 else 0,
                              "ModelNotRunning": 1 if status == 503 else 0}
    metrics = [{"Name": name, "Unit": "Count"} for name in values]
    if first_token_ms is not None:
        values["TimeToFirstToken"] = first_token_ms
        metrics.append({"Name": "TimeToFirstToken", "Unit": "Milliseconds"})
    if isinstance(generated_tokens, int) and not isinstance(generated_tokens, bool):
        values["GeneratedTokens"] = generated_tokens
        metrics.append({"Name": "GeneratedTokens", "Unit": "Count"})
    directives: list[dict[str, Any]] = [
        {"Namespace": NAMESPACE, "Dimensions": [["FunctionName"]], "Metrics": metrics}]
    if not ok:
        # Failures by status: the same count under a second dimension set.
        directives.append({"Namespace": NAMESPACE, "Dimensions": [["FunctionName", "Status"]],
                           "Metrics": [{"Name": "Failures", "Unit": "Count"}]})
    line: dict[str, Any] = {
        "_aws": {"Timestamp": now_ms if now_ms is not None else int(time.time() * 1000),
                 "CloudWatchMetrics": directives},
        "FunctionName": function_name, "Status": str(status), **values}
    if reason:
        line["reason"] = reason  # a property, not a dimension: searchable in Logs Insights
    return line


def emit_outcome(status: int, *, function_name: str | None = None, reason: str | None = None,
                 first_token_ms: int | None = None, generated_tokens: int | None = None) -> None:
    """Writes the metric line of one outcome to standard output (never raises)."""
    name = function_name or os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "local"
    try:
        line = outcome_line(status, name, reason, first_token_ms, generated_tokens)
        sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    except Exception:  # pragma: no cover - measuring must never break an answer
        pass
