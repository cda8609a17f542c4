"""Frames to a WebSocket client, posted through the API Gateway management API.

Every frame is JSON carrying the answer's `id` (when one was readable):
`{"type": "token", "text"}`, `{"type": "done", "msg", ...timings}` or
`{"type": "error", "status", "message", "reason"}` (docs/streaming.md; the reasons are
contract/error-reasons.json's), and a stream job's first frame is `{"type": "started"}`. Every frame stays under API
Gateway's 32 KB frame limit: token text is cut into pieces, and a `done` whose whole
answer would not fit leaves `msg` out and says `msg_omitted` (the tokens carried it all).

One `apigatewaymanagementapi` client per process (created on first use, for
CONNECTIONS_ENDPOINT, the API's own https://<api-id>.execute-api.<region>.amazonaws.com/<stage>).
A GoneException (410: the client closed the socket) raises ClientGone at once; throttling
(429 LimitExceededException) and failures to connect are retried a few times with a short
backoff, then PostFailed: either way the answer stops.
"""

import json
import random
import time
from typing import Any

from botocore.exceptions import ClientError

from core.aws_clients import aws_client
from core.contract import ChatError
from core.failures import describe, error_code, http_status, is_retryable
from core.logs import log
from streaming.text import split_text

FRAME_LIMIT_BYTES = 32 * 1024  # API Gateway's WebSocket frame size
MAX_TEXT_BYTES = 16 * 1024  # token text per frame, JSON-escaped UTF-8 (the rest is the envelope)
POST_MAX_ATTEMPTS = 4
POST_BACKOFF_SECONDS = 0.05  # doubled after each throttled attempt


class ClientGone(Exception):
    """The WebSocket is closed: nothing more can be sent."""


class PostFailed(Exception):
    """A frame could not be posted (still throttled after the retries, or another error)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def management_client(endpoint_url: str) -> Any:
    # Retries are ours (FramePoster._retry_or_fail).
    return aws_client("apigatewaymanagementapi", endpoint_url=endpoint_url,
                      connect_timeout=2, read_timeout=5, max_attempts=1)


def encode(frame: dict[str, Any]) -> bytes:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode()


class FramePoster:
    """Posts the frames of one answer (or one rejected message) to one connection."""

    def __init__(self, endpoint_url: str, connection_id: str, answer_id: str | None,
                 request_id: str | None) -> None:
        self.endpoint_url = endpoint_url
        self.connection_id = connection_id
        self.answer_id = answer_id
        self.request_id = request_id
        self.frames = 0  # posted
        self.shown = ""  # the answer text the client has been sent (a stopped answer saves it)

    def token(self, text: str) -> None:
        for piece in split_text(text, MAX_TEXT_BYTES):
            self._post(self._encode({"type": "token", "text": piece}))
            self.shown += piece

    def done(self, fields: dict[str, Any]) -> None:
        data = self._encode({"type": "done", **fields})
        if len(data) > FRAME_LIMIT_BYTES:
            # An answer this long cannot travel in one frame; the token frames carried all
            # of it, so `done` says so instead of failing the post (docs/streaming.md).
            rest = {key: value for key, value in fields.items() if key != "msg"}
            data = self._encode({"type": "done", **rest, "msg_omitted": True})
        self._post(data)

    def started(self) -> None:
        """The job runs: the page stops telling the person the answer has not started yet."""
        self._post(self._encode({"type": "started"}))

    def error(self, error: ChatError, extra: dict[str, Any] | None = None) -> None:
        """`extra`: the saved conversation's `conversationId`, when the question had one."""
        self._post(self._encode({"type": "error", "status": error.status, "message": error.message,
                                 "reason": error.reason, **(extra or {})}))

    def _encode(self, frame: dict[str, Any]) -> bytes:
        """The frame as posted: with this answer's `id` after its `type`, when there is one."""
        if self.answer_id is not None:
            frame = {"type": frame["type"], "id": self.answer_id, **frame}
        return encode(frame)

    def _post(self, data: bytes) -> None:
        try:
            client = management_client(self.endpoint_url)
        except Exception as error:  # e.g. a malformed endpoint URL
            raise PostFailed(error) from error
        attempt = 1
        while True:
            try:
                client.post_to_connection(ConnectionId=self.connection_id, Data=data)
                self.frames += 1
                return
            except ClientError as error:
                if error_code(error) == "GoneException" or http_status(error) == 410:
                    raise ClientGone() from error
                self._retry_or_fail(error, attempt)
            except Exception as error:
                self._retry_or_fail(error, attempt)
            attempt += 1

    def _retry_or_fail(self, error: Exception, attempt: int) -> None:
        if attempt >= POST_MAX_ATTEMPTS or not is_retryable(error):
            raise PostFailed(error) from error
        log.warning("retrying a frame post", extra={
            "requestId": self.request_id, "connectionId": self.connection_id,
            "attempt": attempt, "cause": describe(error)})
        time.sleep(POST_BACKOFF_SECONDS * 2 ** (attempt - 1) * random.uniform(0.5, 1.0))
