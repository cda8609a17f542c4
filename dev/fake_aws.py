"""Local stand-ins for the two AWS APIs the stream function calls besides SageMaker (stdlib only).

Both speak the rest-json wire format botocore uses, so real boto3 clients pointed at
them run their whole request and response path; both record what they receive.

`FakeManagementApi`: API Gateway's WebSocket management API (`apigatewaymanagementapi`,
endpoint `url("<stage>")`, as CONNECTIONS_ENDPOINT). `POST /<stage>/@connections/<id>`
records the frame and answers 200; on demand it answers 410 GoneException (the client
has gone: `gone(id)`, or `gone_after(id, n)` after n frames) or 429
LimitExceededException (`throttle(n)`: the next n posts).

`FakeLambda`: Lambda's Invoke (`POST /2015-03-31/functions/<name>/invocations`, as
AWS_ENDPOINT_URL_LAMBDA) records the invocation type and payload and answers 202 for
`InvocationType=Event` (200 with `null` otherwise); `fail_next(status, error_type)`
makes the next call fail.

    with FakeManagementApi() as api, FakeLambda() as lam:
        api.url("dev")            # http://127.0.0.1:PORT/dev
        api.frames("conn-1")      # [{"type": "token", ...}, ...]   (parsed JSON, in order)
        lam.invocations           # [Invocation(function, invocation_type, payload)]
"""

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from loopback_server import LoopbackServer, OwnedServer


@dataclass
class Post:
    stage: str
    connection_id: str
    data: bytes
    status: int  # what the stand-in answered

    def frame(self) -> Any:
        return json.loads(self.data)


@dataclass
class Invocation:
    function: str
    invocation_type: str
    payload: Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: OwnedServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, error_type, reply = self.server.owner.answer(self.path, self.headers, body)
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": "00000000-0000-0000-0000-000000000000"}
        if error_type:
            headers["x-amzn-ErrorType"] = error_type
            reply = json.dumps({"message": f"fake {error_type}"}).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


    def do_DELETE(self) -> None:
        status = self.server.owner.delete(self.path)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _StandIn(LoopbackServer):
    """An AWS API stand-in on 127.0.0.1."""

    handler = _Handler

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def answer(self, path: str, headers: Any, body: bytes) -> tuple[int, str | None, bytes]:
        raise NotImplementedError

    def delete(self, path: str) -> int:
        return 404


class FakeManagementApi(_StandIn):
    def __init__(self) -> None:
        super().__init__()
        self.posts: list[Post] = []  # every attempt, answered or refused
        self.closed: list[str] = []  # connections closed by DELETE @connections/<id>
        self._gone: set[str] = set()
        self._gone_after: dict[str, int] = {}
        self._throttle = 0

    def url(self, stage: str = "dev") -> str:
        return f"{self.base_url}/{stage}"

    def reset(self) -> None:
        with self._lock:
            self.posts.clear()
            self.closed.clear()
            self._gone.clear()
            self._gone_after.clear()
            self._throttle = 0

    def gone(self, connection_id: str) -> None:
        """Every later post to this connection answers 410 GoneException."""
        with self._lock:
            self._gone.add(connection_id)

    def gone_after(self, connection_id: str, frames: int) -> None:
        """The client closes after `frames` more frames reached it."""
        with self._lock:
            self._gone_after[connection_id] = frames

    def throttle(self, posts: int) -> None:
        """The next `posts` posts answer 429 LimitExceededException."""
        with self._lock:
            self._throttle = posts

    def frames(self, connection_id: str | None = None) -> list[Any]:
        """The frames delivered (status 200), in order, parsed."""
        with self._lock:
            return [p.frame() for p in self.posts
                    if p.status == 200 and connection_id in (None, p.connection_id)]

    def delete(self, path: str) -> int:
        """DELETE @connections/<id>: API Gateway closes the socket; later posts are 410."""
        _, _, rest = path.lstrip("/").partition("/@connections/")
        connection_id = unquote(rest.split("?", 1)[0])
        with self._lock:
            if not connection_id or connection_id in self._gone:
                return 410
            self.closed.append(connection_id)
            self._gone.add(connection_id)
        return 204

    def answer(self, path: str, headers: Any, body: bytes) -> tuple[int, str | None, bytes]:
        stage, _, rest = path.lstrip("/").partition("/@connections/")
        connection_id = unquote(rest.split("?", 1)[0])
        if not rest:
            return 404, "NotFoundException", b""
        with self._lock:
            if connection_id in self._gone_after and self._gone_after[connection_id] <= 0:
                self._gone.add(connection_id)
            if connection_id in self._gone:
                status, error = 410, "GoneException"
            elif self._throttle > 0:
                self._throttle -= 1
                status, error = 429, "LimitExceededException"
            else:
                status, error = 200, None
                if connection_id in self._gone_after:
                    self._gone_after[connection_id] -= 1
            self.posts.append(Post(stage, connection_id, body, status))
        return status, error, b""


class FakeLambda(_StandIn):
    def __init__(self) -> None:
        super().__init__()
        self.invocations: list[Invocation] = []
        self._failures: list[tuple[int, str]] = []

    @property
    def url(self) -> str:
        return self.base_url

    def reset(self) -> None:
        with self._lock:
            self.invocations.clear()
            self._failures.clear()

    def fail_next(self, status: int, error_type: str) -> None:
        """The next Invoke answers `status` with this error type (e.g. 429 TooManyRequestsException)."""
        with self._lock:
            self._failures.append((status, error_type))

    def answer(self, path: str, headers: Any, body: bytes) -> tuple[int, str | None, bytes]:
        prefix, suffix = "/2015-03-31/functions/", "/invocations"
        route = path.split("?", 1)[0]
        if not (route.startswith(prefix) and route.endswith(suffix)):
            return 404, "ResourceNotFoundException", b""
        function = unquote(route[len(prefix):-len(suffix)])
        kind = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        with self._lock:
            if self._failures:
                status, error = self._failures.pop(0)
                return status, error, b""
            self.invocations.append(Invocation(function, kind, json.loads(body) if body else None))
        return (202, None, b"") if kind == "Event" else (200, None, b"null")
