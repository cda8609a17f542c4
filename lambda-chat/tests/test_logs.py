"""What the chat function logs: JSON lines with the request id, the cause of every
failure, configuration problems at cold start, and no prompt or answer text unless
LOG_PROMPTS is on.
"""

import json
from typing import Any

import pytest

from fake_sagemaker import Behaviour


def test_unexpected_failure_answers_500_without_detail_and_logs_the_cause(handler, context, capsys,
                                                                         monkeypatch):
    def broken(payload: bytes, settings: Any, request_id: Any) -> Any:
        raise KeyError("secret internal detail")

    monkeypatch.setattr(handler, "call_model", broken)
    with pytest.raises(handler.ChatError) as raised:
        handler.lambda_handler({"text": "hi"}, context)
    assert str(raised.value) == "[500] internal error"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if "chat failed" in x]
    assert line["requestId"] == context.aws_request_id
    assert line["status"] == 500
    assert "secret internal detail" in line["cause"]["detail"]
    assert line["errorType"] == "KeyError" and line["stackTrace"]


def test_model_failure_is_logged_with_request_id_and_error_code(handler, model, context, capsys):
    model.queue(Behaviour.fail(424))
    with pytest.raises(handler.ChatError):
        handler.lambda_handler({"text": "hi"}, context)
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if "chat failed" in x]
    assert line["requestId"] == context.aws_request_id
    assert line["cause"]["code"] == "ModelError" and line["cause"]["http_status"] == 424
    assert line["reason"] == "model_error" and line["error"] == "the model failed to answer"


def test_invalid_configuration_is_logged_at_cold_start_with_the_bad_value(load_handler, capsys):
    load_handler(TEMPERATURE="0")
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["level"] == "ERROR"
    assert line["problems"] == "TEMPERATURE must be a number > 0 and <= 100 (got '0')"


def test_logs_are_json_lines_with_the_request_id(handler, context, capsys):
    capsys.readouterr()
    handler.lambda_handler({"text": "hi"}, context)
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' not in x]
    assert line["message"] == "chat answered"
    assert line["level"] == "INFO"
    assert line["requestId"] == context.aws_request_id
    assert line["attempts"] == 1 and line["text_chars"] == 2


def test_prompt_and_answer_text_are_not_logged_by_default(handler, context, capsys):
    handler.lambda_handler({"text": "my secret question", "history": [
        {"role": "user", "content": "private earlier turn"}]}, context)
    with pytest.raises(handler.ChatError):
        handler.lambda_handler({"text": "secret that fails [[fail:424]]"}, context)
    out = capsys.readouterr().out
    assert "secret" not in out and "private" not in out and "Echo" not in out


def test_prompt_and_answer_text_are_logged_with_LOG_PROMPTS_true(load_handler, context, capsys):
    handler = load_handler(LOG_PROMPTS="true")
    handler.lambda_handler({"text": "my secret question"}, context)
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if "chat answered" in x]
    assert line["prompt"] == "my secret question"
    assert line["answer"] == "Echo: my secret question (0 earlier turns)"


def test_lambda_json_log_format_leaves_formatting_to_the_runtime(load_handler):
    handler = load_handler(AWS_LAMBDA_LOG_FORMAT="JSON")
    # No handler of its own: records reach the runtime's root handler, extras become keys.
    assert handler.log.propagate is True and handler.log.handlers == []
    load_handler()  # back to local JSON lines for the next tests
