"""The warm worker's protocol: python3 -m pytest dev/tests (from the repo root)."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "dev" / "lambda_worker.py"
FIXTURE = "__tests__/browser/fixtures/contract_handler.lambda_handler"


def run_worker(requests, handler=FIXTURE, env=None):
    """Feeds JSON-lines requests to a worker; returns (stdout messages, stderr text, exit code)."""
    lines = "".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in requests)
    done = subprocess.run(
        [sys.executable, str(WORKER), "--handler", handler],
        input=lines, capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
    )
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr, done.returncode


def test_ready_then_one_reply_per_request_in_order_from_one_process():
    out, _, code = run_worker([{"id": i, "event": {"text": str(i)}} for i in (1, 2, 3)])
    assert code == 0
    assert out[0] == {"ready": True}
    assert [m["id"] for m in out[1:]] == [1, 2, 3]
    assert [m["result"]["event"]["text"] for m in out[1:]] == ["1", "2", "3"]
    assert len({m["result"]["pid"] for m in out[1:]}) == 1
    assert len({m["requestId"] for m in out[1:]}) == 3


def test_handler_output_goes_to_stderr_not_the_protocol():
    out, err, _ = run_worker([{"id": 1, "event": {}}])
    assert all(isinstance(m, dict) for m in out)
    assert "handler output goes to the log" in err
    assert "START RequestId:" in err and "REPORT RequestId:" in err


def test_raised_exception_becomes_error_message_and_worker_keeps_serving():
    out, err, _ = run_worker([{"id": 1, "event": {"raise": "[429] slow down"}}, {"id": 2, "event": {}}])
    assert out[1]["ok"] is False
    assert out[1]["errorMessage"] == "[429] slow down"
    assert out[1]["errorType"] == "Exception"
    assert out[2]["ok"] is True
    assert "[ERROR] Exception: [429] slow down" in err


def test_unserialisable_result_is_a_marshal_error(tmp_path):
    (tmp_path / "odd_handler.py").write_text("def h(event, context):\n    return {'x': object()}\n")
    out, _, _ = run_worker([{"id": 1, "event": {}}], handler=f"{tmp_path}/odd_handler.h")
    assert out[1]["errorType"] == "Runtime.MarshalError"


def test_missing_handler_module_fails_each_invocation_like_the_runtime():
    out, err, code = run_worker([{"id": 7, "event": {}}], handler="nowhere/missing.lambda_handler")
    assert out[0] == {"ready": True}
    assert out[1]["id"] == 7 and out[1]["errorType"] == "Runtime.ImportModuleError"
    assert code == 0 and "Traceback" in err


def test_bad_request_line_is_answered_not_fatal():
    out, _, _ = run_worker(["not json\n", {"id": 2, "event": {}}])
    assert out[1]["errorType"] == "Worker.BadRequest"
    assert out[2]["id"] == 2 and out[2]["ok"] is True


def test_context_looks_like_lambdas(tmp_path):
    (tmp_path / "ctx_handler.py").write_text(
        "def h(event, context):\n"
        "    return {k: getattr(context, k) for k in ('function_name', 'memory_limit_in_mb',"
        " 'invoked_function_arn', 'log_group_name')} | {'left': context.get_remaining_time_in_millis()}\n"
    )
    out, _, _ = run_worker([{"id": 1, "event": {}}], handler=f"{tmp_path}/ctx_handler.h", env={"AWS_REGION": "eu-west-1"})
    result = out[1]["result"]
    assert result["function_name"] == "lambda-chat-api"
    assert result["invoked_function_arn"].startswith("arn:aws:lambda:eu-west-1:")
    assert 110_000 < result["left"] <= 120_000


def test_a_handler_in_a_package_of_the_root_loads_as_the_runtime_loads_it(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "helper.py").write_text("VALUE = 'from the root'\n")
    (tmp_path / "pkg" / "mod.py").write_text("from helper import VALUE\n\ndef h(event, context):\n    return {'v': VALUE}\n")
    out, _, _ = run_worker([{"id": 1, "event": {}}], handler=f"{tmp_path}/pkg.mod.h")
    assert out[-1]["result"] == {"v": "from the root"}
