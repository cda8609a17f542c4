"""Configuration from environment variables, read and checked once per cold start.

`load_settings` is what both functions read (endpoint, generation parameters, request
limits, the model's token limits, timeouts, LOG_PROMPTS); `load_stream_settings` adds
what only the stream function needs (CONNECTIONS_ENDPOINT, ALLOWED_ORIGINS, ...), so the
REST function never requires those. Every problem is collected, so one log line and one
`[500] the function is misconfigured: ...` name all bad variables. See docs/lambda.md.
"""

import json
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import urlsplit

from core.logs import log
from payloads import INPUTS, MESSAGES, STYLES
from payloads.messages import chat_parameters
from payloads.tokens import FAMILIES, estimate_tokens

DEFAULT_STOP_SEQUENCES = ["<|endoftext|>", "</s>"]
MAX_STOP_SEQUENCES = 4  # TGI's default --max-stop-sequences
MAX_SYSTEM_PROMPT_CHARS = 1000  # the stack's own bound (stacks/config/model-settings.ts)


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
    max_input_tokens: int  # TGI's input limit of the endpoint (MAX_INPUT_TOKENS / MAX_INPUT_LENGTH)
    max_total_tokens: int  # TGI MAX_TOTAL_TOKENS (input + new tokens)
    payload_style: str = INPUTS  # PAYLOAD_STYLE: "inputs" (the seed's) or "messages"
    system_prompt: str = ""  # SYSTEM_PROMPT: the system turn, or the inputs prompt's opening line
    tokenizer: str = "falcon"  # MODEL_TOKENIZER: calibration of the token estimate
    chat_parameters: dict[str, Any] | None = None  # the Messages API's parameters (messages style)

    @property
    def stop_sequences(self) -> list[str]:
        return self.parameters["stop"]

    @property
    def fallback_stop_sequences(self) -> list[str]:
        """Falcon's end tokens, for an inputs prompt sent to a model without a chat template."""
        return [s for s in DEFAULT_STOP_SEQUENCES if s not in self.stop_sequences]

    @property
    def inputs_parameters(self) -> dict[str, Any]:
        """The generate parameters of an inputs prompt (with the fallback's stop sequences)."""
        if self.payload_style == INPUTS:
            return self.parameters
        stops = (self.stop_sequences + self.fallback_stop_sequences)[:MAX_STOP_SEQUENCES]
        return {**self.parameters, "stop": stops}

    @property
    def input_budget(self) -> int:
        """Most prompt tokens the endpoint accepts with max_new_tokens still to generate."""
        return min(self.max_input_tokens, self.max_total_tokens - self.parameters["max_new_tokens"])

    def summary(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "payload_style": self.payload_style,
                "tokenizer": self.tokenizer, "system_prompt_chars": len(self.system_prompt),
                "parameters": self.chat_parameters if self.payload_style == MESSAGES else self.parameters,
                "max_text_chars": self.max_text_chars, "max_history_turns": self.max_history_turns,
                "max_history_chars": self.max_history_chars,
                "max_input_tokens": self.max_input_tokens, "max_total_tokens": self.max_total_tokens,
                "input_budget": self.input_budget, "connect_timeout_s": self.connect_timeout,
                "read_timeout_s": self.read_timeout, "max_attempts": self.max_attempts,
                "log_prompts": self.log_prompts}


Origin = tuple[str, str, int]  # (scheme, host in lower case, port)


@dataclass(frozen=True)
class StreamSettings:
    chat: Settings
    connections_endpoint: str  # https://<api-id>.execute-api.<region>.amazonaws.com/<stage>
    allowed_origins: frozenset[Origin]
    connections_table: str | None  # None keeps answer counts in this process (dev server)
    max_answers: int
    batch_ms: int
    stream_read_timeout: float

    def summary(self) -> dict[str, Any]:
        return {**self.chat.summary(), "connections_endpoint": self.connections_endpoint,
                "allowed_origins": sorted(f"{s}://{h}:{p}" for s, h, p in self.allowed_origins),
                "connections_table": self.connections_table,
                "max_answers_per_connection": self.max_answers, "stream_batch_ms": self.batch_ms,
                "stream_read_timeout_s": self.stream_read_timeout}


class ConfigError(ValueError):
    """Environment variables that are missing or invalid: `str()` names them and their rules."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name} must be {rule}" for name, rule, _ in problems))

    def with_values(self) -> str:
        """The same, with the offending values (for the log only)."""
        return "; ".join(f"{name} must be {rule} (got {raw!r})" for name, rule, raw in self.problems)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(value: str) -> Origin | None:
    """(scheme, host, port) of a browser Origin such as `https://Example.com:443`; None if it is not one."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if (parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname or parts.username
            or parts.password or parts.path not in ("", "/") or parts.query or parts.fragment):
        return None
    scheme = parts.scheme.lower()
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


T = TypeVar("T")


class EnvReader:
    """Reads typed values from the environment, collecting every problem."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[tuple[str, str, str]] = []  # (name, rule, raw value)

    def read(self, name: str, default: T, parse: Callable[[str], Any], ok: Callable[[Any], bool],
             rule: str, required: bool = False) -> T:
        raw = self.env.get(name)
        if raw is None or (required and not raw.strip()):
            if required:
                self.problems.append((name, rule, raw or ""))
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
        return self.read(name, default, int, lambda v: v >= low and (high is None or v <= high), rule)

    def number(self, name: str, default: float, ok: Callable[[float], bool], rule: str) -> float:
        return self.read(name, default, float, lambda v: math.isfinite(v) and ok(v), rule)

    def flag(self, name: str, default: bool) -> bool:
        return self.read(name, default, lambda s: {"true": True, "false": False}.get(s.lower()),
                         lambda v: True, '"true" or "false"')

    def stop_sequences(self, name: str) -> list[str]:
        return self.read(
            name, DEFAULT_STOP_SEQUENCES, json.loads,
            lambda v: isinstance(v, list) and len(v) <= MAX_STOP_SEQUENCES
            and all(isinstance(s, str) and s for s in v),
            f"a JSON list of at most {MAX_STOP_SEQUENCES} non-empty strings")

    def must_be_below(self, name: str, value: int, limit_name: str, limit: int) -> None:
        """A relation between two valid values (checked only when both were valid)."""
        if not any(p[0] in (name, limit_name) for p in self.problems) and value >= limit:
            self.problems.append((name, f"less than {limit_name} ({limit})", self.env.get(name, str(value))))


def _read_settings(read: EnvReader) -> Settings:
    endpoint = read.read("endpoint", "", str, bool, "set to the SageMaker endpoint name", required=True)
    max_new_tokens = read.integer("MAX_NEW_TOKENS", 512, 1, 8192)
    payload_style = read.read("PAYLOAD_STYLE", INPUTS, str, lambda v: v in STYLES,
                              " or ".join(f'"{s}"' for s in STYLES))
    tokenizer = read.read("MODEL_TOKENIZER", "falcon", str, lambda v: v in FAMILIES,
                          " or ".join(f'"{f}"' for f in FAMILIES))
    repetition_penalty_set = "REPETITION_PENALTY" in read.env
    parameters = {
        "max_new_tokens": max_new_tokens,
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
        max_input_tokens=read.integer("MODEL_MAX_INPUT_TOKENS", 1024, 1),
        max_total_tokens=read.integer("MODEL_MAX_TOTAL_TOKENS", 2048, 2),
        payload_style=payload_style,
        system_prompt=_system_prompt(read),
        tokenizer=tokenizer,
        chat_parameters=chat_parameters(parameters, repetition_penalty_set),
    )
    # TGI itself refuses to start unless MAX_INPUT_LENGTH < MAX_TOTAL_TOKENS, and a
    # request whose max_new_tokens leaves no room for a prompt can never be answered.
    read.must_be_below("MAX_NEW_TOKENS", max_new_tokens, "MODEL_MAX_TOTAL_TOKENS",
                       settings.max_total_tokens)
    read.must_be_below("MODEL_MAX_INPUT_TOKENS", settings.max_input_tokens,
                       "MODEL_MAX_TOTAL_TOKENS", settings.max_total_tokens)
    # The system prompt goes with every request: it must leave room for the conversation.
    if not read.problems and settings.system_prompt:
        half = settings.input_budget // 2
        if estimate_tokens(settings.system_prompt, settings.tokenizer) > half:
            read.problems.append(("SYSTEM_PROMPT", f"at most about {half} tokens (half the input budget)",
                                  f"<{len(settings.system_prompt)} characters>"))
    return settings


def _system_prompt(read: EnvReader) -> str:
    """SYSTEM_PROMPT: text without control characters other than line breaks and tabs."""
    def ok(value: str) -> bool:
        return len(value) <= MAX_SYSTEM_PROMPT_CHARS and not any(
            ord(c) < 32 and c not in "\t\n\r" or ord(c) == 127 for c in value)
    return read.read("SYSTEM_PROMPT", "", str, ok,
                     f"at most {MAX_SYSTEM_PROMPT_CHARS} characters without control characters")


def load_settings(env: Mapping[str, str]) -> Settings:
    """Reads and checks what both functions need; raises ConfigError naming every bad variable."""
    read = EnvReader(env)
    settings = _read_settings(read)
    if read.problems:
        raise ConfigError(read.problems)
    return settings


def _connections_endpoint(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return None
    if parts.hostname.lower().endswith(".cloudfront.net"):
        return None  # post_to_connection must reach API Gateway itself
    return value.rstrip("/")


def _origins(value: str) -> frozenset[Origin] | None:
    items = json.loads(value)
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        return None
    origins = [normalize_origin(i) for i in items]
    return None if None in origins else frozenset(o for o in origins if o is not None)


_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


def _optional_table(read: EnvReader) -> str | None:
    if not read.env.get("CONNECTIONS_TABLE", "").strip():
        return None  # counts stay in the process (the dev server)
    return read.read("CONNECTIONS_TABLE", None, str, lambda v: bool(_TABLE_NAME.fullmatch(v)),
                     "a DynamoDB table name (3-255 of A-Za-z0-9_.-)")


def load_stream_settings(env: Mapping[str, str]) -> StreamSettings:
    """Everything `load_settings` reads, plus the stream function's own variables."""
    read = EnvReader(env)
    chat = _read_settings(read)
    settings = StreamSettings(
        chat=chat,
        connections_endpoint=read.read(
            "CONNECTIONS_ENDPOINT", "", _connections_endpoint, bool,
            "the http(s) URL of the WebSocket API stage "
            "(https://<api-id>.execute-api.<region>.amazonaws.com/<stage>, not CloudFront)",
            required=True),
        allowed_origins=read.read(
            "ALLOWED_ORIGINS", frozenset(), _origins, bool,
            'a JSON list of origins such as ["https://d111111abcdef8.cloudfront.net"]',
            required=True),
        connections_table=_optional_table(read),
        max_answers=read.integer("MAX_ANSWERS_PER_CONNECTION", 50, 1),
        batch_ms=read.integer("STREAM_BATCH_MS", 50, 0, 5000),
        stream_read_timeout=read.number("STREAM_READ_TIMEOUT_SECONDS", 30.0, lambda v: 0 < v <= 900,
                                        "a number > 0 and <= 900"),
    )
    if read.problems:
        raise ConfigError(read.problems)
    return settings


S = TypeVar("S", Settings, StreamSettings)


def load_at_cold_start(loader: Callable[[Mapping[str, str]], S]) -> tuple[S | None, str | None]:
    """(settings, None), or (None, the problem) after logging it once."""
    try:
        settings = loader(os.environ)
    except ConfigError as error:
        log.error("invalid configuration: every invocation will fail until it is fixed",
                  extra={"problems": error.with_values()})
        return None, str(error)
    log.info("configuration loaded", extra=settings.summary())
    return settings, None
