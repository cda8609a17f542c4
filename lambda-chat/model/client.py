"""The SageMaker runtime: one reused client per use, the TGI payload, calls with bounded retries.

`call_model` is POST /chat's InvokeEndpoint; `open_stream` is the stream job's
InvokeEndpointWithResponseStream. Both retry by themselves, up to MODEL_MAX_ATTEMPTS
attempts, only for throttling and failures to connect (the model has not started on
the request), and only while the call is less than RETRY_WINDOW_SECONDS old; botocore's
own retries are off. SageMaker's relay of TGI's 422 for an over-long prompt is raised
as PromptTooLong, so the caller can shrink the history and try again; its refusal of a
`messages` body for want of a chat template as NoChatTemplate. Answers are read in both
payload styles, whichever the endpoint's model gave (README "Upgrading to Falcon 3").
"""

import json
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

from core.aws_clients import aws_client
from core.contract import ChatError
from core.failures import describe, is_retryable, no_template_from, too_long_from
from core.logs import log
from payloads import MESSAGES, inputs, messages
from model.prompt import PromptPlan
from core.settings import Settings

# A retry starts only this soon after the first attempt began, so the worst case
# of all attempts is RETRY_WINDOW + connect timeout + read timeout.
RETRY_WINDOW_SECONDS = 1.0


def model_client(settings: Settings, read_timeout: float | None = None) -> Any:
    """The sagemaker-runtime client of this process for a read timeout (created on first use).

    POST /chat uses MODEL_READ_TIMEOUT_SECONDS; the stream job STREAM_READ_TIMEOUT_SECONDS,
    the longest wait for the model's next event.
    """
    # Retries are ours (_with_retries): botocore would also retry read timeouts.
    return aws_client("sagemaker-runtime", connect_timeout=settings.connect_timeout,
                      read_timeout=settings.read_timeout if read_timeout is None else read_timeout,
                      max_attempts=1)


def tgi_payload(plan: PromptPlan, settings: Settings, stream: bool = False) -> bytes:
    """The body of the plan's payload style (payloads/inputs.py, payloads/messages.py)."""
    if plan.style == MESSAGES:
        return messages.body(plan, settings.chat_parameters or {}, stream)
    return inputs.body(plan, settings.inputs_parameters, stream)


R = TypeVar("R")


def _with_retries(call: Callable[[], R], settings: Settings, request_id: str | None) -> tuple[R, int]:
    """(result, attempts). Botocore errors propagate; a relayed 422 "too long" as PromptTooLong."""
    started = time.monotonic()
    attempt = 1
    while True:
        try:
            return call(), attempt
        except Exception as error:
            too_long = too_long_from(error)
            if too_long is not None:
                raise too_long from error
            no_template = no_template_from(error)
            if no_template is not None:
                raise no_template from error
            backoff = random.uniform(0.5, 1.0) * 0.1 * 2 ** (attempt - 1)
            if (attempt >= settings.max_attempts or not is_retryable(error)
                    or time.monotonic() - started + backoff > RETRY_WINDOW_SECONDS):
                raise
            log.warning("retrying the model call", extra={
                "requestId": request_id, "attempt": attempt, "cause": describe(error)})
            time.sleep(backoff)
            attempt += 1


def call_model(payload: bytes, settings: Settings, request_id: str | None) -> tuple[bytes, int]:
    """InvokeEndpoint; returns (response body, attempts)."""
    client = model_client(settings)

    def call() -> bytes:
        response = client.invoke_endpoint(
            EndpointName=settings.endpoint, ContentType="application/json",
            Accept="application/json", Body=payload)
        return response["Body"].read()

    return _with_retries(call, settings, request_id)


def open_stream(payload: bytes, settings: Settings, read_timeout: float,
                request_id: str | None) -> tuple[Any, int]:
    """InvokeEndpointWithResponseStream; returns (botocore EventStream, attempts)."""
    client = model_client(settings, read_timeout)

    def call() -> Any:
        return client.invoke_endpoint_with_response_stream(
            EndpointName=settings.endpoint, ContentType="application/json",
            Accept="application/json", Body=payload)["Body"]

    return _with_retries(call, settings, request_id)


@dataclass(frozen=True)
class Answer:
    text: str
    details: dict[str, Any]


def cut_at_stop(text: str, stop_sequences: Sequence[str]) -> str:
    """The text before the earliest stop sequence."""
    for stop in stop_sequences:
        text = text.split(stop, 1)[0]
    return text


def parse_answer(body: bytes, stop_sequences: Sequence[str]) -> Answer:
    """Reads TGI's `[{"generated_text": ...}]` / `{"generated_text": ...}` (generate) or a chat
    completion's `choices[0].message.content` (Messages API); cuts stop sequences."""
    try:
        data = json.loads(body)
    except ValueError:  # includes bad UTF-8
        raise ChatError(502, "the model returned an unreadable answer") from None
    if isinstance(data, list) and data:
        data = data[0]
    chat = messages.answer_text(data) if isinstance(data, dict) else None
    if chat is not None:
        generated, details = chat
    elif isinstance(data, dict) and isinstance(data.get("generated_text"), str):
        generated = data["generated_text"]
        details = data.get("details") if isinstance(data.get("details"), dict) else {}
    else:
        raise ChatError(502, "the model returned an unexpected answer")
    text = cut_at_stop(generated, stop_sequences).strip()
    if not text:
        raise ChatError(502, "the model returned no text")
    return Answer(text, details)
