"""The stream function's on-failure destination: Lambda's record of a stream job it gave
up on becomes an `error` frame to the waiting connection (stream_failures/notice.py)."""

import importlib
import json

import pytest

from conftest import LambdaContext

ASK = {"action": "chat", "id": "a1", "text": "hi"}
FUNCTION_ARN = "arn:aws:lambda:ap-northeast-2:123456789012:function:lambda-chat-stream-dev"


@pytest.fixture
def notice(load_stream):
    load_stream()  # the environment the destination function gets too (CONNECTIONS_ENDPOINT)
    return importlib.import_module("stream_failures.notice")


def failure_record(job_event, condition):
    """What Lambda sends an on-failure destination (AWS: "invocation record")."""
    return {
        "version": "1.0", "timestamp": "2026-12-01T21:00:00.000Z",
        "requestContext": {"requestId": "e4b46cbf-b738-4a2b-8880-a18cdf61200e",
                           "functionArn": f"{FUNCTION_ARN}:$LATEST", "condition": condition,
                           "approximateInvokeCount": 1 if condition == "RetriesExhausted" else 0},
        "requestPayload": job_event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "Task timed out after 120.00 seconds"},
    }


def queued_job(ws):
    """The chat route's asynchronous invocation, not run (Lambda kept it queued)."""
    ws.send(ASK)
    return ws.invoke.invocations[-1].payload


@pytest.mark.parametrize(("condition", "status", "reason"), [
    ("EventAgeExceeded", 429, "busy"),
    ("RetriesExhausted", 503, "stream_failed"),
])
def test_a_job_lambda_gave_up_on_gets_an_error_frame_with_the_answers_id(ws, notice, connections, capsys,
                                                                         condition, status, reason):
    record = failure_record(queued_job(ws), condition)
    capsys.readouterr()
    assert notice.lambda_handler(record, LambdaContext("lambda-chat-stream-dev-failed")) == {"delivered": True}
    [frame] = ws.frames()
    assert frame == {"type": "error", "id": "a1", "status": status,
                     "message": notice.TOO_BUSY if status == 429 else notice.NOT_RUN, "reason": reason}
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    [metric] = [x for x in out if "_aws" in x]
    # Counted on the stream path: under the stream function's name, not the notice's.
    assert metric["FunctionName"] == "lambda-chat-stream-dev" and metric["Status"] == str(status)
    [line] = [x for x in out if x.get("message") == "stream job failed; the client was told"]
    assert line["condition"] == condition and line["connectionId"] == ws.connection_id


def test_a_connection_that_has_gone_is_no_failure_of_the_notice(ws, notice, connections, capsys):
    record = failure_record(queued_job(ws), "EventAgeExceeded")
    connections.gone_after(ws.connection_id, 0)
    assert notice.lambda_handler(record, LambdaContext()) == {"delivered": False}  # and nothing raised
    assert ws.frames() == []
    assert [p.status for p in connections.posts] == [410]
    assert any("the connection has gone" in x for x in capsys.readouterr().out.splitlines())


def test_throttled_posts_are_retried_then_given_up_without_raising(ws, notice, connections):
    record = failure_record(queued_job(ws), "EventAgeExceeded")
    connections.throttle(100)
    assert notice.lambda_handler(record, LambdaContext()) == {"delivered": False}
    assert [p.status for p in connections.posts] == [429] * 4


@pytest.mark.parametrize("event", [
    pytest.param({"requestContext": {"connectionId": "x", "routeKey": "chat"}, "body": "{}"}, id="a-websocket-event"),
    pytest.param({"requestContext": {"condition": "EventAgeExceeded"}, "requestPayload": {"text": "hi"}},
                 id="a-record-of-something-else"),
    pytest.param(None, id="nothing"),
])
def test_anything_but_a_stream_job_record_is_logged_and_ignored(notice, connections, capsys, event):
    assert notice.lambda_handler(event, LambdaContext()) == {"delivered": False}
    assert connections.posts == []
    assert "not the failure record of a stream job" in capsys.readouterr().out
