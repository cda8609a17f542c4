"""Chat API: validates a `/chat` request and asks the Falcon model on SageMaker for an answer.

API Gateway invokes this function through a non-proxy integration, so the event is
the request body as a JSON object: `{"text": "...", "history": [{"role", "content"}, ...]}`.

Success returns `{"msg": <answer>, "elapsed_ms": ..., "model_ms": ...}` (plus token
counts when the model reports them). Every failure is raised as `ChatError`, whose
message is `[<status>] <reason>`; API Gateway maps that prefix to the HTTP status
(contract/chat-errors.json) and shows the caller only the reason.

Configuration comes from environment variables, read and checked once at cold start
(see docs/lambda.md). Standard library and boto3 only.
"""

import json
import logging
import math
import os
import random
import sys
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

# ---------------------------------------------------------------------------- errors


class ChatError(Exception):
    """A failure the caller may see: `str(error)` is the `[status] message` API Gateway maps."""

    def __init__(self, status: int, message: str) -> None:
        # API Gateway matches the whole errorMessage; keep it on one line.
        self.status = status
        self.message = " ".join(message.split())
        super().__init__(f"[{status}] {self.message}")


# ------------------------------------------------------------------- logging

log = logging.getLogger("lambda-chat")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line, shaped like the Lambda runtime's JSON log format."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        line.update((k, v) for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES)
        if record.exc_info and record.exc_info[0] is not None:
            line["errorType"] = record.exc_info[0].__name__
            line["stackTrace"] = self.formatException(record.exc_info).splitlines()
        return json.dumps(line, ensure_ascii=False, default=str)


_HANDLER_NAME = "lambda-chat-json-lines"


class _StdoutHandler(logging.Handler):
    """Writes to whatever `sys.stdout` is at the time (Lambda captures stdout)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
        except Exception:  # pragma: no cover - logging must never break the handler
            self.handleError(record)


def _setup_logging() -> None:
    # Idempotent, so a re-import (tests reload the module) never stacks handlers.
    for old in [h for h in log.handlers if h.get_name() == _HANDLER_NAME]:
        log.removeHandler(old)
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
        # The runtime's root handler writes JSON and turns `extra=` fields into keys;
        # its applicationLogLevel decides what is written.
        log.setLevel(logging.NOTSET)
        log.propagate = True
        return
    handler = _StdoutHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonLineFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


_setup_logging()

# -------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Settings:
    endpoint: str
    parameters: dict[str, Any]  # TGI generation parameters, sent with every prompt
    max_text_chars: int
    max_history_turns: int
    max_history_chars: int
    connect_timeout: float
    read_timeout: float
    max_attempts: int
    log_prompts: bool

    @property
    def stop_sequences(self) -> list[str]:
        return self.parameters["stop"]


DEFAULT_STOP_SEQUENCES = ["<|endoftext|>", "</s>"]
MAX_STOP_SEQUENCES = 4  # TGI's default --max-stop-sequences


class _EnvReader:
    """Reads typed values from the environment, collecting every problem."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[tuple[str, str, str]] = []  # (name, rule, raw value)

    def _read(self, name: str, default: Any, parse: Callable[[str], Any],
              ok: Callable[[Any], bool], rule: str) -> Any:
        raw = self.env.get(name)
        if raw is None:
            return default
        try:
            value = parse(raw.strip())
        except (TypeError, ValueError):
            value = None
        if value is None or not ok(value):
            self.problems.append((name, rule, raw))
            return default
        return value

    def integer(self, name: str, default: int, low: int, high: int | None = None) -> int:
        rule = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
        return self._read(name, default, int,
                          lambda v: v >= low and (high is None or v <= high), rule)

    def number(self, name: str, default: float, ok: Callable[[float], bool], rule: str) -> float:
        return self._read(name, default, float, lambda v: math.isfinite(v) and ok(v), rule)

    def flag(self, name: str, default: bool) -> bool:
        return self._read(name, default, lambda s: {"true": True, "false": False}.get(s.lower()),
                          lambda v: True, '"true" or "false"')

    def stop_sequences(self, name: str) -> list[str]:
        return self._read(
            name, DEFAULT_STOP_SEQUENCES, json.loads,
            lambda v: isinstance(v, list) and len(v) <= MAX_STOP_SEQUENCES
            and all(isinstance(s, str) and s for s in v),
            f"a JSON list of at most {MAX_STOP_SEQUENCES} non-empty strings")


class ConfigError(ValueError):
    """Environment variables that are missing or invalid: `str()` names them and their rules."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name} must be {rule}" for name, rule, _ in problems))

    def with_values(self) -> str:
        """The same, with the offending values (for the log only)."""
        return "; ".join(f"{name} must be {rule} (got {raw!r})" for name, rule, raw in self.problems)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Reads and checks the configuration; raises ConfigError naming every bad variable."""
    read = _EnvReader(env)
    endpoint = env.get("endpoint", "").strip()
    if not endpoint:
        read.problems.append(("endpoint", "set to the SageMaker endpoint name", env.get("endpoint", "")))
    parameters = {
        "max_new_tokens": read.integer("MAX_NEW_TOKENS", 512, 1, 8192),
        "return_full_text": False,
        "do_sample": read.flag("DO_SAMPLE", False),
        "temperature": read.number("TEMPERATURE", 0.5, lambda v: 0 < v <= 100,
                                   "a number > 0 and <= 100"),
        "repetition_penalty": read.number("REPETITION_PENALTY", 1.03, lambda v: v > 0,
                                          "a number > 0"),
        "top_p": read.number("TOP_P", 0.9, lambda v: 0 < v < 1, "a number > 0 and < 1"),
        "top_k": read.integer("TOP_K", 1, 1),
        "stop": read.stop_sequences("STOP_SEQUENCES"),
    }
    settings = Settings(
        endpoint=endpoint,
        parameters=parameters,
        max_text_chars=read.integer("MAX_TEXT_CHARS", 4000, 1),
        max_history_turns=read.integer("MAX_HISTORY_TURNS", 10, 0),
        max_history_chars=read.integer("MAX_HISTORY_CHARS", 8000, 0),
        connect_timeout=read.number("MODEL_CONNECT_TIMEOUT_SECONDS", 2.0, lambda v: v > 0,
                                    "a number > 0"),
        read_timeout=read.number("MODEL_READ_TIMEOUT_SECONDS", 25.0, lambda v: v > 0,
                                 "a number > 0"),
        max_attempts=read.integer("MODEL_MAX_ATTEMPTS", 2, 1, 5),
        log_prompts=read.flag("LOG_PROMPTS", False),
    )
    if read.problems:
        raise ConfigError(read.problems)
    return settings


def _load_at_cold_start() -> tuple[Settings | None, str | None]:
    try:
        settings = load_settings(os.environ)
    except ConfigError as error:
        log.error("invalid configuration: every invocation will fail until it is fixed",
                  extra={"problems": error.with_values()})
        return None, str(error)
    log.info("configuration loaded", extra={
        "endpoint": settings.endpoint, "parameters": settings.parameters,
        "max_text_chars": settings.max_text_chars,
        "max_history_turns": settings.max_history_turns,
        "max_history_chars": settings.max_history_chars,
        "connect_timeout_s": settings.connect_timeout, "read_timeout_s": settings.read_timeout,
        "max_attempts": settings.max_attempts, "log_prompts": settings.log_prompts})
    return settings, None


SETTINGS, CONFIG_PROBLEM = _load_at_cold_start()

# ------------------------------------------------------------ request parsing


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class ChatRequest:
    text: str
    history: tuple[Turn, ...]


def _check_characters(value: str, field: str) -> None:
    """Rejects control characters (other than tab and line breaks) and lone surrogates."""
    for ch in value:
        if ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cs"):
            raise ChatError(400, f"{field} must not contain control characters")


def parse_request(event: Any, settings: Settings) -> ChatRequest:
    """Checks the request body; raises ChatError(400) naming the offending field."""
    if not isinstance(event, dict):
        raise ChatError(400, "the request body must be a JSON object")
    if "text" not in event or event["text"] is None:
        raise ChatError(400, "text is required")
    text = event["text"]
    if not isinstance(text, str):
        raise ChatError(400, "text must be a string")
    text = text.strip()
    if not text:
        raise ChatError(400, "text must not be empty")
    if len(text) > settings.max_text_chars:
        raise ChatError(400, f"text must be at most {settings.max_text_chars} characters")
    _check_characters(text, "text")
    return ChatRequest(text=text, history=_parse_history(event.get("history"), settings))


def _parse_history(history: Any, settings: Settings) -> tuple[Turn, ...]:
    if history is None:
        return ()
    if not isinstance(history, list):
        raise ChatError(400, "history must be a list")
    if len(history) > settings.max_history_turns:
        raise ChatError(400, f"history must have at most {settings.max_history_turns} turns")
    turns: list[Turn] = []
    for i, item in enumerate(history):
        field = f"history[{i}]"
        if not isinstance(item, dict):
            raise ChatError(400, f"{field} must be an object with role and content")
        if item.get("role") not in ("user", "assistant"):
            raise ChatError(400, f'{field}.role must be "user" or "assistant"')
        content = item.get("content")
        if not isinstance(content, str):
            raise ChatError(400, f"{field}.content must be a string")
        content = content.strip()
        if not content:
            raise ChatError(400, f"{field}.content must not be empty")
        _check_characters(content, f"{field}.content")
        turns.append(Turn(item["role"], content))
    if sum(len(t.content) for t in turns) > settings.max_history_chars:
        raise ChatError(400, f"history must have at most {settings.max_history_chars} "
                             "characters in total")
    return tuple(turns)


# ------------------------------------------------------------------ prompt

SPEAKERS = {"user": "User", "assistant": "Falcon"}
# With history the model may go on to write the user's next turn; cut the answer there.
CONVERSATION_STOP = "\nUser:"


def build_prompt(request: ChatRequest) -> str:
    """Falcon-instruct chat prompt; without history it is the text alone, as in the seed."""
    if not request.history:
        return request.text
    lines = [f"{SPEAKERS[t.role]}: {t.content}" for t in request.history]
    lines += [f"User: {request.text}", "Falcon:"]
    return "\n".join(lines)


# -------------------------------------------------------------- model call

# A retry starts only this soon after the first attempt began, so the worst case
# of all attempts is RETRY_WINDOW + connect timeout + read timeout.
RETRY_WINDOW_SECONDS = 1.0
_client: Any = None


def model_client(settings: Settings) -> Any:
    """The one sagemaker-runtime client of this process (created on first use)."""
    global _client
    if _client is None:
        _client = boto3.client("sagemaker-runtime", config=Config(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            # Retries are ours (call_model): botocore would also retry read timeouts.
            retries={"total_max_attempts": 1, "mode": "standard"},
        ))
    return _client


def _is_retryable(error: Exception) -> bool:
    """Throttling and failures to connect: the model has not started on the request."""
    return _is_throttling(error) or isinstance(error, BotoConnectionError)


def _is_throttling(error: Exception) -> bool:
    return isinstance(error, ClientError) and (
        _http_status(error) == 429
        or _error_code(error) in ("ThrottlingException", "ModelNotReadyException"))


def _http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _error_code(error: ClientError) -> str | None:
    return error.response.get("Error", {}).get("Code")


def call_model(payload: bytes, settings: Settings, request_id: str | None) -> tuple[bytes, int]:
    """Invokes the endpoint; returns (response body, attempts). Botocore errors propagate."""
    client = model_client(settings)
    started = time.monotonic()
    attempt = 1
    while True:
        try:
            response = client.invoke_endpoint(
                EndpointName=settings.endpoint, ContentType="application/json",
                Accept="application/json", Body=payload)
            return response["Body"].read(), attempt
        except Exception as error:
            backoff = random.uniform(0.5, 1.0) * 0.1 * 2 ** (attempt - 1)
            if (attempt >= settings.max_attempts or not _is_retryable(error)
                    or time.monotonic() - started + backoff > RETRY_WINDOW_SECONDS):
                raise
            log.warning("retrying the model call", extra={
                "requestId": request_id, "attempt": attempt, "cause": _describe(error)})
            time.sleep(backoff)
            attempt += 1


# ----------------------------------------------------------------- answer


@dataclass(frozen=True)
class Answer:
    text: str
    details: dict[str, Any]


def parse_answer(body: bytes, stop_sequences: Sequence[str]) -> Answer:
    """Reads TGI's `[{"generated_text": ...}]` or `{"generated_text": ...}`; cuts stop sequences."""
    try:
        data = json.loads(body)
    except ValueError:  # includes bad UTF-8
        raise ChatError(502, "the model returned an unreadable answer") from None
    if isinstance(data, list) and data:
        data = data[0]
    if not isinstance(data, dict) or not isinstance(data.get("generated_text"), str):
        raise ChatError(502, "the model returned an unexpected answer")
    text = data["generated_text"]
    for stop in stop_sequences:
        text = text.split(stop, 1)[0]
    text = text.strip()
    if not text:
        raise ChatError(502, "the model returned no text")
    details = data.get("details")
    return Answer(text, details if isinstance(details, dict) else {})


# ---------------------------------------------------------- error mapping


def _describe(error: BaseException) -> dict[str, Any]:
    """What the log records about a failure (never shown to the caller)."""
    cause: dict[str, Any] = {"type": type(error).__name__, "detail": str(error)}
    if isinstance(error, ClientError):
        cause["code"] = _error_code(error)
        cause["http_status"] = _http_status(error)
    return cause


def to_chat_error(error: Exception) -> ChatError:
    """The one mapping from any failure to the `[status] message` the caller sees."""
    if isinstance(error, ChatError):
        return error
    if _is_throttling(error):
        return ChatError(429, "the model is busy, please try again shortly")
    if isinstance(error, ClientError):
        code = _error_code(error)
        if code == "ModelError":
            return ChatError(502, "the model failed to answer")
        if code == "ValidationError":
            return ChatError(502, "the model rejected the request")
        if _http_status(error) >= 500:
            return ChatError(502, "the model service is unavailable")
    if isinstance(error, (ReadTimeoutError, ConnectTimeoutError)):
        return ChatError(504, "the model did not answer in time")
    if isinstance(error, BotoConnectionError):
        return ChatError(502, "the model could not be reached")
    return ChatError(500, "internal error")


# ---------------------------------------------------------------- handler


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    request_id = getattr(context, "aws_request_id", None)
    try:
        if SETTINGS is None:
            raise ChatError(500, f"the function is misconfigured: {CONFIG_PROBLEM}")
        return _answer(event, SETTINGS, request_id, started)
    except Exception as error:
        chat_error = to_chat_error(error)
        level = logging.WARNING if chat_error.status in (400, 429) else logging.ERROR
        log.log(level, "chat failed", exc_info=chat_error.status == 500 and error is not chat_error,
                extra={"requestId": request_id, "status": chat_error.status,
                       "reason": chat_error.message, "cause": _describe(error),
                       "elapsed_ms": _ms_since(started)})
        raise chat_error from None


def _answer(event: Any, settings: Settings, request_id: str | None,
            started: float) -> dict[str, Any]:
    request = parse_request(event, settings)
    prompt = build_prompt(request)
    payload = json.dumps({"inputs": prompt, "parameters": settings.parameters}).encode()
    model_started = time.perf_counter()
    body, attempts = call_model(payload, settings, request_id)
    model_ms = _ms_since(model_started)
    stops = [*settings.stop_sequences, CONVERSATION_STOP] if request.history else settings.stop_sequences
    answer = parse_answer(body, stops)

    result: dict[str, Any] = {"msg": answer.text, "elapsed_ms": _ms_since(started),
                              "model_ms": model_ms}
    for key in ("generated_tokens", "finish_reason"):
        if key in answer.details:
            result[key] = answer.details[key]
    fields: dict[str, Any] = {
        "requestId": request_id, "elapsed_ms": result["elapsed_ms"], "model_ms": model_ms,
        "attempts": attempts, "text_chars": len(request.text),
        "history_turns": len(request.history), "answer_chars": len(answer.text)}
    if settings.log_prompts:
        fields.update(prompt=prompt, answer=answer.text)
    log.info("chat answered", extra=fields)
    return result


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
