"""The one place where a failure becomes the `[status] message` the caller sees.

`to_chat_error` maps every exception either function meets (botocore errors of
SageMaker, Lambda and DynamoDB calls, the model's own error events, timeouts, bugs) to
a ChatError. The classification helpers beside it are shared with the retry loops.
Messages never carry internal detail; `describe` is what the log records instead.
"""

import json
import re
import socket
from typing import Any

from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from urllib3.exceptions import ProtocolError, ReadTimeoutError as Urllib3ReadTimeoutError

from core.contract import ChatError
from payloads.messages import error_kind
from model.prompt import NoChatTemplate, PromptTooLong

BUSY = "the model is busy, please try again shortly"
NOT_RUNNING = "the model is not running (it may be starting up or switched off); try again later"
FAILED = "the model failed to answer"
REJECTED = "the model rejected the request"
TIMED_OUT = "the model did not answer in time"
INTERNAL = "internal error"

_THROTTLING_CODES = {"ThrottlingException", "ModelNotReadyException", "TooManyRequestsException",
                     "LimitExceededException", "ProvisionedThroughputExceededException",
                     "RequestLimitExceeded", "ThrottledException"}

# SageMaker's ValidationError for an endpoint it cannot invoke. "Endpoint <name> of account
# <id> not found." is its documented wording for a missing endpoint; the wording for one
# that exists but is not InService (Creating, Failed, OutOfService, Deleting) is an
# assumption: any "not in service", or one of those statuses next to "status"/"state".
# Updating and SystemUpdating endpoints keep serving and never get here.
_NOT_RUNNING = re.compile(
    r"\bendpoint\b.*(\bnot found\b|\bnot in ?service\b"
    r"|\b(status|state)\b\W+(is\W+)?(creating|failed|out ?of ?service|deleting)\b"
    r"|\b(creating|failed|out ?of ?service|deleting)\W+(status|state)\b)",
    re.IGNORECASE | re.DOTALL)

# TGI's input validation (router/src/validation.rs), the two "too long" cases.
_TOTAL_TOO_LONG = re.compile(r"must be <= (\d+)\. Given: (\d+) `?inputs?`? tokens and (\d+) `?max_new_tokens")
_INPUT_TOO_LONG = re.compile(r"must have less than (\d+) tokens\. Given: (\d+)")


class ModelReported(Exception):
    """An error event in TGI's stream: `data:{"error": ..., "error_type": ...}` (generate), or
    `data:{"error": {"message": ..., "http_status_code": 422}}` (Messages API), whose kind
    is read from the message (payloads/messages.py, `error_kind`)."""

    def __init__(self, error: str, error_type: str) -> None:
        super().__init__(f"{error_type}: {error}")
        self.error = error
        self.error_type = error_type


class StartFailed(Exception):
    """The WebSocket route could not start an answer (answer count or asynchronous invoke)."""

    def __init__(self, step: str, cause: Exception) -> None:
        super().__init__(f"{step}: {cause}")
        self.step = step
        self.cause = cause


class DeadlineReached(Exception):
    """The function is about to reach its own timeout."""


def http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def error_code(error: ClientError) -> str | None:
    return error.response.get("Error", {}).get("Code")


def is_throttling(error: BaseException) -> bool:
    return isinstance(error, ClientError) and (
        http_status(error) == 429 or error_code(error) in _THROTTLING_CODES)


def is_retryable(error: BaseException) -> bool:
    """Throttling and failures to connect: the service has not started on the request."""
    return is_throttling(error) or isinstance(error, BotoConnectionError)


def is_not_running(error: BaseException) -> bool:
    return (isinstance(error, ClientError) and error_code(error) == "ValidationError"
            and bool(_NOT_RUNNING.search(error.response.get("Error", {}).get("Message", ""))))


def too_long_in(message: str) -> PromptTooLong | None:
    """The real token count and limit in one of TGI's "too long" validation messages."""
    if found := _TOTAL_TOO_LONG.search(message):
        total, tokens, new_tokens = map(int, found.groups())
        return PromptTooLong(tokens, total - new_tokens)
    if found := _INPUT_TOO_LONG.search(message):
        limit, tokens = map(int, found.groups())
        return PromptTooLong(tokens, limit)
    return None


def too_long_from(error: BaseException) -> PromptTooLong | None:
    """PromptTooLong when SageMaker relays TGI's 422 for an over-long prompt (ModelError, 424)."""
    if not isinstance(error, ClientError) or error_code(error) != "ModelError":
        return None
    response: dict[str, Any] = error.response
    if str(response.get("OriginalStatusCode", "")) not in ("422", ""):
        return None
    original = response.get("OriginalMessage") or ""
    try:
        original = json.loads(original).get("error", original)
    except (ValueError, AttributeError):
        pass
    return too_long_in(str(original)) or too_long_in(response.get("Error", {}).get("Message", ""))


def _original_error(response: dict[str, Any]) -> str:
    original = response.get("OriginalMessage") or ""
    try:
        original = json.loads(original).get("error", original)
    except (ValueError, AttributeError):
        pass
    return str(original)


# axum's 422 for a body the route cannot read: a TGI older than 2.4.0 (the 40B's 1.4.0) reads
# only `inputs` on /invocations ("missing field `inputs`"); from 2.4.0 on it also takes `messages`.
_UNREADABLE_BODY = "Failed to deserialize the JSON body"


def no_template_from(error: BaseException) -> NoChatTemplate | None:
    """NoChatTemplate when SageMaker relays TGI's 422 for a `messages` body the model cannot
    take: "Template error" (no chat template, or one that refuses the turns;
    router/src/infer/mod.rs, `TemplateError`), or a body that TGI version cannot read."""
    if not isinstance(error, ClientError) or error_code(error) != "ModelError":
        return None
    if str(error.response.get("OriginalStatusCode", "")) != "422":
        return None
    original = _original_error(error.response)
    if error_kind(original) != "template_error" and not original.startswith(_UNREADABLE_BODY):
        return None
    return NoChatTemplate(original)


def too_long_event(error: ModelReported) -> PromptTooLong | None:
    return too_long_in(error.error) if error.error_type == "validation" else None


def _is_timeout(error: BaseException) -> bool:
    return isinstance(error, (ReadTimeoutError, ConnectTimeoutError, Urllib3ReadTimeoutError,
                              socket.timeout, DeadlineReached))


def to_chat_error(error: BaseException) -> ChatError:
    """The one mapping from any failure to the `[status] message` the caller sees."""
    if isinstance(error, ChatError):
        return error
    if isinstance(error, PromptTooLong):
        return ChatError(400, f"text is too long for the model: about {error.tokens} tokens, "
                              f"at most {error.limit}")
    if isinstance(error, NoChatTemplate):
        return ChatError(502, REJECTED)
    if isinstance(error, StartFailed):
        cause = error.cause
        transient = (is_throttling(cause) or isinstance(cause, BotoConnectionError) or _is_timeout(cause)
                     or (isinstance(cause, ClientError) and http_status(cause) >= 500))
        return ChatError(502, "the answer could not be started, please try again") if transient \
            else ChatError(500, INTERNAL)
    if isinstance(error, ModelReported):
        if error.error_type == "overloaded":
            return ChatError(429, BUSY)
        if error.error_type == "validation":
            return ChatError(502, REJECTED)
        return ChatError(502, FAILED)
    if is_throttling(error):
        return ChatError(429, BUSY)
    if is_not_running(error):
        return ChatError(503, NOT_RUNNING)
    if isinstance(error, ClientError):
        code = error_code(error)
        if code == "ModelError" and str(error.response.get("OriginalStatusCode")) == "422":
            return ChatError(502, REJECTED)  # TGI's input validation, as in a stream
        if code in ("ModelError", "ModelStreamError"):
            return ChatError(502, FAILED)
        if code == "ValidationError":
            return ChatError(502, REJECTED)
        if code == "InternalStreamFailure" or http_status(error) >= 500:
            return ChatError(502, "the model service is unavailable")
    if _is_timeout(error):
        return ChatError(504, TIMED_OUT)
    if isinstance(error, (BotoConnectionError, ProtocolError)):
        return ChatError(502, "the model could not be reached")
    return ChatError(500, INTERNAL)


def describe(error: BaseException) -> dict[str, Any]:
    """What the log records about a failure (never shown to the caller)."""
    if isinstance(error, StartFailed):
        return {**describe(error.cause), "step": error.step}
    cause: dict[str, Any] = {"type": type(error).__name__, "detail": str(error)}
    if isinstance(error, ClientError):
        cause["code"] = error_code(error)
        cause["http_status"] = http_status(error)
    return cause
