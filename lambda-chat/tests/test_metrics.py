"""Every answer and every failure on both paths writes one metric line (CloudWatch EMF)
with the status, under the answering function's name; stacks/operations/ alarms on them."""

import json

import pytest

from fake_sagemaker import Behaviour
from observability.metrics import NAMESPACE, outcome_line

ASK = {"action": "chat", "id": "a1"}


def metric_lines(capsys):
    return [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith('{"_aws"')]


def check_emf(line, function_name, status):
    """The line is what the EMF specification asks for, and says `status`."""
    directives = line["_aws"]["CloudWatchMetrics"]
    assert isinstance(line["_aws"]["Timestamp"], int)
    for directive in directives:
        assert directive["Namespace"] == NAMESPACE
        for dimension_set in directive["Dimensions"]:
            assert all(isinstance(line[d], str) for d in dimension_set)  # dimensions are strings
        for metric in directive["Metrics"]:
            assert isinstance(line[metric["Name"]], int)
    assert line["FunctionName"] == function_name and line["Status"] == str(status)
    ok = status == 200
    assert (line["Answers"], line["Failures"]) == ((1, 0) if ok else (0, 1))
    assert line["ServerErrors"] == (1 if status >= 500 else 0)
    assert line["ModelNotRunning"] == (1 if status == 503 else 0)
    by_status = [d for d in directives if d["Dimensions"] == [["FunctionName", "Status"]]]
    assert by_status == ([] if ok else [{"Namespace": NAMESPACE, "Dimensions": [["FunctionName", "Status"]],
                                         "Metrics": [{"Name": "Failures", "Unit": "Count"}]}])


# ------------------------------------------------------------------ POST /chat

@pytest.mark.parametrize(("event", "behaviour", "status"), [
    pytest.param({"text": "hi"}, None, 200, id="answered"),
    pytest.param({"text": "  "}, None, 400, id="invalid"),
    pytest.param({"text": "hi"}, Behaviour.fail(429), 429, id="model-throttled"),
    pytest.param({"text": "hi"}, Behaviour.fail(424), 502, id="model-failed"),
    pytest.param({"text": "hi [[notfound]]"}, None, 503, id="model-not-running"),
    pytest.param({"text": "hi [[slow:3000]]"}, None, 504, id="model-too-slow"),
])
def test_post_chat_writes_one_metric_line_per_request_with_its_status(load_handler, model, context, capsys,
                                                                      event, behaviour, status):
    handler = load_handler(MODEL_READ_TIMEOUT_SECONDS="1")
    if behaviour:
        model.queue(behaviour, behaviour)
    capsys.readouterr()
    if status == 200:
        handler.lambda_handler(event, context)
    else:
        with pytest.raises(handler.ChatError):
            handler.lambda_handler(event, context)
    [line] = metric_lines(capsys)
    check_emf(line, "lambda-chat-api-dev", status)
    assert "TimeToFirstToken" not in line  # nothing streams on this path


def test_post_chat_counts_generated_tokens_when_the_model_reports_them(handler, model, context, capsys):
    model.queue(Behaviour.reply({"generated_text": " Paris.", "details": {"generated_tokens": 3}}))
    capsys.readouterr()
    handler.lambda_handler({"text": "Capital of France?"}, context)
    [line] = metric_lines(capsys)
    assert line["GeneratedTokens"] == 3
    assert {"Name": "GeneratedTokens", "Unit": "Count"} in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]


def test_a_misconfigured_function_counts_a_500(load_handler, context, capsys):
    handler = load_handler(TEMPERATURE="0")
    capsys.readouterr()
    with pytest.raises(handler.ChatError):
        handler.lambda_handler({"text": "hi"}, context)
    check_emf(metric_lines(capsys)[0], "lambda-chat-api-dev", 500)


# ------------------------------------------------------------------ the WebSocket

def test_streamed_answer_writes_answers_time_to_first_token_and_generated_tokens(ws, capsys):
    capsys.readouterr()
    ws.ask({**ASK, "text": "hi"})
    [line] = metric_lines(capsys)
    check_emf(line, "lambda-chat-stream-dev", 200)
    assert isinstance(line["TimeToFirstToken"], int) and line["TimeToFirstToken"] >= 0
    assert line["GeneratedTokens"] > 0  # streaming asks TGI for details
    units = {m["Name"]: m["Unit"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units["TimeToFirstToken"] == "Milliseconds"


@pytest.mark.parametrize(("frame", "status", "reason"), [
    pytest.param("not json", 400, "invalid_request", id="route-rejects-the-frame"),
    pytest.param({**ASK, "text": "hi [[fail:429]]"}, 429, "busy", id="model-throttled"),
    pytest.param({**ASK, "text": "hi [[midfail]]"}, 502, "model_error", id="stream-fails-midway"),
    pytest.param({**ASK, "text": "hi [[notfound]]"}, 503, "model_not_running", id="model-not-running"),
    pytest.param({**ASK, "text": "hi [[slow:1000]]"}, 504, "model_timeout", id="model-too-slow"),
])
def test_stream_failure_writes_one_metric_line_with_its_status(ws_with, capsys, frame, status, reason):
    ws = ws_with(STREAM_READ_TIMEOUT_SECONDS="0.3")
    capsys.readouterr()
    ws.ask(frame) if isinstance(frame, dict) else ws.send(frame)
    [line] = metric_lines(capsys)
    check_emf(line, "lambda-chat-stream-dev", status)
    assert line["reason"] == reason


def test_the_per_connection_limit_counts_a_429_with_its_reason(ws_with, capsys):
    ws = ws_with(MAX_ANSWERS_PER_CONNECTION="1")
    ws.send({**ASK, "id": "q1", "text": "hi"})
    capsys.readouterr()
    ws.send({**ASK, "id": "q2", "text": "hi"})
    [line] = metric_lines(capsys)
    check_emf(line, "lambda-chat-stream-dev", 429)
    assert line["reason"] == "connection_limit"


def test_a_client_that_left_is_neither_an_answer_nor_a_failure(ws, connections, capsys):
    connections.gone_after(ws.connection_id, 0)
    capsys.readouterr()
    ws.ask({**ASK, "text": "hi"})
    assert metric_lines(capsys) == []


def test_outcome_line_is_valid_json_with_the_dimension_values_as_strings():
    line = outcome_line(503, "fn", "model_not_running", now_ms=1)
    assert json.loads(json.dumps(line)) == line
    assert line["_aws"]["Timestamp"] == 1 and line["Status"] == "503"


def test_a_misconfigured_stream_function_counts_a_500_on_the_stream_path(ws_with, capsys):
    ws = ws_with(TEMPERATURE="0")
    capsys.readouterr()
    ws.send({**ASK, "text": "hi"})
    [line] = metric_lines(capsys)
    check_emf(line, "lambda-chat-stream-dev", 500)
    assert line["reason"] == "internal"
