"""The chat request contract shared by POST /chat and the WebSocket `chat` action.

`ChatError(status, message, reason)` is every failure a caller may see: `str(error)` is the
`[status] message` (or `[status:reason] message` when the reason is not the status's
default) that API Gateway maps to an HTTP status and a `{"message", "reason"}` body
(contract/chat-errors.json), and the stream function turns into an `error` frame.
The reasons are contract/error-reasons.json's; the tests check these tables agree with it. `parse_request` is the one
validation of `{"text": ..., "history": [...]}` (with saved conversations `{"text",
"conversationId", "retry"}`); both functions use it, so both give the same messages for
the same input.
"""

import unicodedata
from dataclasses import dataclass
from typing import Any, Protocol


# The reason of an error raised without one (contract/chat-errors.json, `reason` per status).
DEFAULT_REASONS = {400: "invalid_request", 404: "not_found", 429: "busy", 500: "internal", 502: "model_error",
                   503: "model_not_running", 504: "model_timeout"}
# Reasons the functions give besides those defaults (contract/error-reasons.json).
CONNECTION_LIMIT = "connection_limit"  # 429: maxAnswersPerConnection reached
BUSY = "busy"  # 429: the model is overloaded, or the streamed answer could not start in time
UNAUTHORIZED = "unauthorized"  # 401: the sign-in behind a WebSocket has expired
STREAM_FAILED = "stream_failed"  # 503: Lambda gave up on a streamed answer's run (crash, timeout)


class ChatError(Exception):
    """A failure the caller may see: `str(error)` is the `[status(:reason)] message` API Gateway maps."""

    def __init__(self, status: int, message: str, reason: str | None = None) -> None:
        # API Gateway matches the whole errorMessage; keep it on one line.
        self.status = status
        self.message = " ".join(message.split())
        default = DEFAULT_REASONS.get(status, "internal")
        self.reason = reason or default
        prefix = f"[{status}]" if self.reason == default else f"[{status}:{self.reason}]"
        super().__init__(f"{prefix} {self.message}")


class Limits(Protocol):
    """The request limits `parse_request` needs (Settings has them)."""

    max_text_chars: int
    max_history_turns: int
    max_history_chars: int


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class ChatRequest:
    text: str
    history: tuple[Turn, ...]
    # Saved conversations only (`parse_request(..., saved=True)`): the conversation to go on
    # with (None starts a new one; its shape is checked where it is looked up, as a 404), and
    # whether this question replaces the conversation's failed newest turn.
    conversation_id: str | None = None
    retry: bool = False


def _check_characters(value: str, field: str) -> None:
    """Rejects control characters (other than tab and line breaks) and lone surrogates."""
    for ch in value:
        if ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cs"):
            raise ChatError(400, f"{field} must not contain control characters")


def parse_request(event: Any, limits: Limits, saved: bool = False) -> ChatRequest:
    """Checks the request body; raises ChatError(400) naming the offending field.

    `saved` (conversations on): `history` is ignored, since the function loads it from the
    store, and the optional `conversationId` (string) and `retry` (boolean) are read instead."""
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
    if len(text) > limits.max_text_chars:
        raise ChatError(400, f"text must be at most {limits.max_text_chars} characters")
    _check_characters(text, "text")
    if saved:
        return _saved_request(event, text)
    return ChatRequest(text=text, history=_parse_history(event.get("history"), limits))


def _saved_request(event: dict[str, Any], text: str) -> ChatRequest:
    conversation_id = event.get("conversationId")
    if conversation_id is not None and not isinstance(conversation_id, str):
        raise ChatError(400, "conversationId must be a string")
    retry = event.get("retry")
    if retry is not None and not isinstance(retry, bool):
        raise ChatError(400, "retry must be true or false")
    return ChatRequest(text=text, history=(), conversation_id=conversation_id, retry=bool(retry))


def _parse_history(history: Any, limits: Limits) -> tuple[Turn, ...]:
    if history is None:
        return ()
    if not isinstance(history, list):
        raise ChatError(400, "history must be a list")
    if len(history) > limits.max_history_turns:
        raise ChatError(400, f"history must have at most {limits.max_history_turns} turns")
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
    if sum(len(t.content) for t in turns) > limits.max_history_chars:
        raise ChatError(400, f"history must have at most {limits.max_history_chars} "
                             "characters in total")
    return tuple(turns)
