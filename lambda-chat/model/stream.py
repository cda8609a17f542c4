"""TGI's server-sent events out of SageMaker's InvokeEndpointWithResponseStream.

botocore's EventStream yields `{"PayloadPart": {"Bytes": b"..."}}` events (and raises
EventStreamError for ModelStreamError / InternalStreamFailure). Their bytes carry TGI's
SSE lines, split anywhere: in a line, in its JSON, in a UTF-8 character. `ModelStream`
decodes incrementally, joins lines, skips keep-alive comments (`:`) and blank lines, and
yields one `StreamEvent` at a time, from either route, whichever the endpoint answers
(both are read during an upgrade, README "Upgrading to Falcon 3"):
- generate: `data:{"token": {"text", "special"}, "generated_text": null|"...", "details"}`,
  the last one with `generated_text`; `data:{"error": ..., "error_type": ...}` on failure;
- Messages API (text-generation-inference v3.3.6, router/src/server.rs and chat.rs):
  `data: {"object": "chat.completion.chunk", "choices": [{"delta": {"content"},
  "finish_reason"}]}`, then with `stream_options.include_usage` a chunk whose `choices` is
  empty and `usage` is set, then `data: [DONE]`; every error arrives inside the HTTP 200
  stream as `data: {"error": {"message": ..., "http_status_code": 422}}`, then `[DONE]`.
Either error is raised as ModelReported.
Each wait for the next part is bounded by the read timeout and by the function's own
deadline (DeadlineReached), and `close()` drops the connection to the model at once.
"""

import codecs
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeoutError

from core.contract import ChatError
from core.failures import DeadlineReached, ModelReported
from payloads.messages import error_kind

DONE = "[DONE]"


@dataclass
class StreamEvent:
    text: str  # answer text to show (special tokens left out)
    final: bool  # nothing more comes
    details: dict[str, Any] = field(default_factory=dict)  # finish_reason, generated_tokens


class Deadline:
    """The moment to give up: a margin before the Lambda's own timeout."""

    def __init__(self, remaining_ms: Callable[[], int], margin_s: float) -> None:
        self._ends = time.monotonic() + remaining_ms() / 1000 - margin_s

    def seconds_left(self) -> float:
        return self._ends - time.monotonic()


class ModelStream:
    def __init__(self, body: Any, read_timeout: float, deadline: Deadline) -> None:
        self._body = body  # botocore.eventstream.EventStream
        self._parts = iter(body)
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._line = ""  # the part of a line not yet ended
        self._data: list[str] = []  # the data lines of the event being read
        self._peeked: list[StreamEvent] = []
        self._events = self._read_events()
        self._chat_details: dict[str, Any] = {}  # finish_reason and usage seen so far (Messages API)
        self.model_events = 0  # TGI events read (tokens and the final one)

    def peek(self) -> StreamEvent | None:
        """The first event, kept for iteration (None if the stream has none)."""
        event = next(self._events, None)
        if event is not None:
            self._peeked.append(event)
        return event

    def __iter__(self) -> Iterator[StreamEvent]:
        while self._peeked:
            yield self._peeked.pop(0)
        yield from self._events

    def close(self) -> None:
        """Drops the connection to the model (it stops streaming to us)."""
        self._body.close()

    def _read_events(self) -> Iterator[StreamEvent]:
        for part in self._payload_parts():
            yield from self._lines(self._decode(part, final=False))
        yield from self._lines(self._decode(b"", final=True) + "\n\n")

    def _decode(self, data: bytes, final: bool) -> str:
        try:
            return self._decoder.decode(data, final)
        except UnicodeDecodeError:
            raise ChatError(502, "the model returned an unreadable answer") from None

    def _payload_parts(self) -> Iterator[bytes]:
        while True:
            left = self._deadline.seconds_left()
            if left <= 0:
                raise DeadlineReached()
            self._limit_wait(min(self._read_timeout, left))
            try:
                event = next(self._parts)
            except StopIteration:
                return
            except Urllib3ReadTimeoutError as error:
                if self._deadline.seconds_left() <= 0:
                    raise DeadlineReached() from error
                raise
            if "PayloadPart" in event:
                yield event["PayloadPart"].get("Bytes") or b""

    def _limit_wait(self, seconds: float) -> None:
        """The socket timeout of the next read (the client's read timeout, or less near the deadline)."""
        connection = getattr(getattr(self._body, "_raw_stream", None), "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            sock.settimeout(max(seconds, 0.001))

    def _lines(self, text: str) -> Iterator[StreamEvent]:
        lines = (self._line + text).split("\n")
        self._line = lines.pop()
        for line in lines:
            line = line.removesuffix("\r")
            if not line:
                if self._data:
                    yield self._dispatch("\n".join(self._data))
                    self._data = []
            elif line.startswith("data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(" ") else value)
            # comments (":" keep-alives) and other fields (event:, id:, retry:) are skipped

    def _dispatch(self, data: str) -> StreamEvent:
        if data.strip() == DONE:
            return StreamEvent("", True, dict(self._chat_details))
        try:
            event = json.loads(data)
        except ValueError:
            raise ChatError(502, "the model returned an unreadable answer") from None
        if not isinstance(event, dict):
            raise ChatError(502, "the model returned an unexpected answer")
        if "error" in event:
            error = event["error"]
            if isinstance(error, dict):  # the Messages API's error object: no error_type
                message = str(error.get("message", ""))
                raise ModelReported(message, error_kind(message))
            raise ModelReported(str(error), str(event.get("error_type") or ""))
        self.model_events += 1
        if isinstance(event.get("token"), dict):
            token = event["token"]
            text = token.get("text") if not token.get("special") and isinstance(token.get("text"), str) else ""
            final = event.get("generated_text") is not None
            details = event.get("details") if final and isinstance(event.get("details"), dict) else {}
            return StreamEvent(text, final, details)
        if isinstance(event.get("choices"), list):
            return self._chat_chunk(event)
        raise ChatError(502, "the model returned an unexpected answer")

    def _chat_chunk(self, event: dict[str, Any]) -> StreamEvent:
        usage = event.get("usage")
        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
            self._chat_details["generated_tokens"] = usage["completion_tokens"]
        if not event["choices"]:  # the usage chunk
            return StreamEvent("", False)
        choice = event["choices"][0]
        if not isinstance(choice, dict):
            raise ChatError(502, "the model returned an unexpected answer")
        if isinstance(choice.get("finish_reason"), str) and choice["finish_reason"]:
            self._chat_details["finish_reason"] = choice["finish_reason"]
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        return StreamEvent(content if isinstance(content, str) else "", False)
