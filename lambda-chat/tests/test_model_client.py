"""The chat function's one SageMaker runtime client: created once, explicit timeouts, its
own bounded retries (throttling only, never after a read timeout or the retry window),
and what connection failures answer. Through real botocore against the fake model.
"""

import json
import time
from typing import Any

import boto3
import pytest

from fake_sagemaker import Behaviour


def test_throttling_is_retried_and_then_answers(handler, model, context, capsys):
    model.queue(Behaviour.fail(429))
    result = handler.lambda_handler({"text": "hi"}, context)
    assert result["msg"] == "Echo: hi (0 earlier turns)"
    assert len(model.requests) == 2
    [retry] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if "retrying" in x]
    assert retry["requestId"] == context.aws_request_id and retry["cause"]["http_status"] == 429


def test_attempts_are_bounded_by_MODEL_MAX_ATTEMPTS(load_handler, model, context):
    handler = load_handler(MODEL_MAX_ATTEMPTS="3")
    model.queue(*[Behaviour.fail(429)] * 5)
    with pytest.raises(handler.ChatError, match=r"^\[429\]"):
        handler.lambda_handler({"text": "hi"}, context)
    assert len(model.requests) == 3


def test_model_errors_are_not_retried(handler, model, context):
    model.queue(Behaviour.fail(424), Behaviour.fail(500))
    with pytest.raises(handler.ChatError, match=r"^\[502\]"):
        handler.lambda_handler({"text": "hi"}, context)
    assert len(model.requests) == 1


def test_read_timeout_is_not_retried(load_handler, model, context):
    handler = load_handler(MODEL_READ_TIMEOUT_SECONDS="0.3", MODEL_MAX_ATTEMPTS="5")
    model.queue(Behaviour.slow(1000), Behaviour.slow(1000))
    started = time.monotonic()
    with pytest.raises(handler.ChatError, match=r"^\[504\]"):
        handler.lambda_handler({"text": "hi"}, context)
    assert len(model.requests) == 1
    assert time.monotonic() - started < 0.3 + handler.RETRY_WINDOW_SECONDS


def test_no_retry_starts_after_the_retry_window(load_handler, model, context):
    handler = load_handler(MODEL_MAX_ATTEMPTS="5")
    delay_ms = int(handler.RETRY_WINDOW_SECONDS * 1000) + 100
    model.queue(Behaviour.fail(429, delay_ms=delay_ms), Behaviour())
    with pytest.raises(handler.ChatError, match=r"^\[429\]"):
        handler.lambda_handler({"text": "hi"}, context)
    assert len(model.requests) == 1


def test_connect_timeout_answers_504(load_handler, context, unresponsive_port):
    handler = load_handler(AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=f"http://127.0.0.1:{unresponsive_port}",
                           MODEL_CONNECT_TIMEOUT_SECONDS="0.2")
    with pytest.raises(handler.ChatError) as raised:
        handler.lambda_handler({"text": "hi"}, context)
    assert str(raised.value) == "[504] the model did not answer in time"


def test_refused_connection_answers_502(load_handler, context, closed_port):
    handler = load_handler(AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=f"http://127.0.0.1:{closed_port}")
    with pytest.raises(handler.ChatError) as raised:
        handler.lambda_handler({"text": "hi"}, context)
    assert str(raised.value) == "[502] the model could not be reached"


def test_client_is_created_once_and_reused_across_invocations(load_handler, model, context, monkeypatch):
    created = []
    real_client = boto3.client

    def counting_client(*args: Any, **kwargs: Any) -> Any:
        created.append(args)
        return real_client(*args, **kwargs)

    monkeypatch.setattr(boto3, "client", counting_client)
    handler = load_handler()
    for _ in range(3):
        handler.lambda_handler({"text": "hi"}, context)
    assert created == [("sagemaker-runtime",)]
    assert len(model.requests) == 3


def test_client_has_explicit_timeouts_and_no_botocore_retries(load_handler, context):
    handler = load_handler(MODEL_CONNECT_TIMEOUT_SECONDS="1.5", MODEL_READ_TIMEOUT_SECONDS="20")
    handler.lambda_handler({"text": "hi"}, context)
    config = handler.model_client(handler.SETTINGS).meta.config
    assert (config.connect_timeout, config.read_timeout) == (1.5, 20.0)
    assert config.retries["total_max_attempts"] == 1
