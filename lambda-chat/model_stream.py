"""TGI's server-sent events out of SageMaker's InvokeEndpointWithResponseStream.

botocore's EventStream yields `{"PayloadPart": {"Bytes": b"..."}}` events (and raises
EventStreamError for ModelStreamError / InternalStreamFailure). Their bytes carry
TGI's SSE lines, `data:{"token": {...}, "generated_text": ..., "details": ...}`, split
anywhere: in a line, in its JSON, in a UTF-8 character. `ModelStream` decodes
incrementally, joins lines, skips keep-alive comments (`:`) and blank lines, and yields
one parsed event (dict) at a time; TGI's `data:{"error": ...}` is raised as ModelReported.
Each wait for the next part is bounded by the read timeout and by the function's own
deadline (DeadlineReached), and `close()` drops the connection to the model at once.
"""

import codecs
import json
import time
from typing import Any, Callable, Iterator

from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeoutError

from contract import ChatError
from failures import DeadlineReached, ModelReported


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
        self._peeked: list[dict[str, Any]] = []
        self._events = self._read_events()
        self.model_events = 0  # TGI events read (tokens and the final one)

    def peek(self) -> dict[str, Any] | None:
        """The first event, kept for iteration (None if the stream has none)."""
        event = next(self._events, None)
        if event is not None:
            self._peeked.append(event)
        return event

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while self._peeked:
            yield self._peeked.pop(0)
        yield from self._events

    def close(self) -> None:
        """Drops the connection to the model (it stops streaming to us)."""
        self._body.close()

    def _read_events(self) -> Iterator[dict[str, Any]]:
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

    def _lines(self, text: str) -> Iterator[dict[str, Any]]:
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

    def _dispatch(self, data: str) -> dict[str, Any]:
        try:
            event = json.loads(data)
        except ValueError:
            raise ChatError(502, "the model returned an unreadable answer") from None
        if not isinstance(event, dict):
            raise ChatError(502, "the model returned an unexpected answer")
        if "error" in event:
            raise ModelReported(str(event.get("error")), str(event.get("error_type") or ""))
        if not isinstance(event.get("token"), dict):
            raise ChatError(502, "the model returned an unexpected answer")
        self.model_events += 1
        return event
