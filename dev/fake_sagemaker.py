"""A fake SageMaker runtime for tests, benchmarks and the local dev server (stdlib only).

It speaks the InvokeEndpoint wire format that botocore uses, so a real boto3
`sagemaker-runtime` client pointed at it (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=<url>,
any dummy credentials) runs its normal request and response path:

    POST /endpoints/<name>/invocations   body: {"inputs": "...", "parameters": {...}}
    200  [{"generated_text": " Echo: <last user message> (<n> earlier turns)"}]

The reply echoes the last user message of the prompt: the whole prompt, or, for a
Falcon chat prompt ("User: ...\\nFalcon: ...\\nUser: <text>\\nFalcon:"), the last
"User:" turn, and says how many earlier turns (User/Falcon lines) it saw. Every
response carries `x-fake-model-ms`: the fake's own time for the request.

Errors use the shape botocore parses for this service: the status, an
`x-amzn-ErrorType` header and a JSON body `{"__type": ..., "message": ...}`.

Markers in the last user message choose the behaviour of that one request:

    [[fail:429]]   429 ThrottlingException
    [[fail:424]]   424 ModelError (the model container failed)
    [[fail:400]]   400 ValidationError
    [[fail:500]]   500 InternalFailure      ([[fail:503]] ServiceUnavailable; other codes too)
    [[slow:MS]]    wait MS milliseconds, then answer normally
    [[malformed]]  200 with a body that is not JSON
    [[empty]]      200 [{"generated_text": ""}]
    [[html]]       the reply contains <script>alert(1)</script><b>bold</b>
    [[stop]]       the reply ends with "<|endoftext|>" and text after it, as TGI may send

From Python:

    with FakeSageMaker() as fake:          # or fake = FakeSageMaker().start(); fake.stop()
        fake.url                           # http://127.0.0.1:PORT
        fake.queue(Behaviour.fail(424), Behaviour.slow(2000))   # the next requests, in order
        fake.default = Behaviour(delay_ms=50)                  # every other request
        ...
        fake.requests                      # [ReceivedRequest(path, headers, body, ...)]

From the command line (serves until SIGINT/SIGTERM):

    python3 dev/fake_sagemaker.py --port 0 --delay-ms 0
    -> listening on http://127.0.0.1:PORT
"""

import argparse
import json
import re
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HTML_SNIPPET = "<script>alert(1)</script><b>bold</b>"
ERROR_TYPES = {
    400: "ValidationError",
    424: "ModelError",
    429: "ThrottlingException",
    500: "InternalFailure",
    503: "ServiceUnavailable",
}
_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")
_MARKER = re.compile(r"\[\[(fail|slow):(\d+)\]\]|\[\[(malformed|empty|html|stop)\]\]")
_TURN = re.compile(r"^(User|Falcon):", re.MULTILINE)


@dataclass(frozen=True)
class Behaviour:
    """How the fake answers one request. Build with the class methods or the fields."""

    status: int = 200
    delay_ms: int = 0
    body: bytes | None = None  # the raw response body; None means the echo reply
    reply_suffix: str = ""  # appended to the echo reply

    @classmethod
    def fail(cls, status: int, delay_ms: int = 0) -> "Behaviour":
        return cls(status=status, delay_ms=delay_ms)

    @classmethod
    def slow(cls, delay_ms: int) -> "Behaviour":
        return cls(delay_ms=delay_ms)

    @classmethod
    def reply(cls, payload: Any, status: int = 200) -> "Behaviour":
        """Answers with `payload` as JSON (or raw bytes/str) instead of the echo."""
        if isinstance(payload, str):
            return cls(status=status, body=payload.encode())
        if isinstance(payload, bytes):
            return cls(status=status, body=payload)
        return cls(status=status, body=json.dumps(payload).encode())

    @classmethod
    def malformed(cls) -> "Behaviour":
        return cls(body=b'[{"generated_text": "Echo: cut off')

    @classmethod
    def empty(cls) -> "Behaviour":
        return cls.reply([{"generated_text": ""}])


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    endpoint: str | None
    model_ms: float = 0.0  # the fake's own time for it, delay included
    status: int = 0

    def json(self) -> Any:
        return json.loads(self.body)


_FLAG_BEHAVIOURS = {
    "malformed": Behaviour.malformed(),
    "empty": Behaviour.empty(),
    "html": Behaviour(reply_suffix=" " + HTML_SNIPPET),
    "stop": Behaviour(reply_suffix="<|endoftext|>User: and more"),
}


def last_user_message(prompt: str) -> tuple[str, int]:
    """(the last user message, the number of earlier User/Falcon turns) of a prompt."""
    starts = [m.start() for m in _TURN.finditer(prompt)]
    if len(starts) < 2 or not prompt.rstrip().endswith("Falcon:"):
        return prompt.strip(), 0  # a plain prompt: the text alone
    # The last two labels are the new "User: <text>" and the empty "Falcon:".
    user = prompt[starts[-2]:starts[-1]]
    return user[len("User:"):].strip(), len(starts) - 2


def behaviour_for(message: str, default: Behaviour) -> Behaviour:
    """The behaviour that the markers in the message ask for (else `default`)."""
    behaviour = default
    for m in _MARKER.finditer(message):
        kind, number, flag = m.groups()
        if kind == "fail" and 400 <= int(number) <= 599:
            behaviour = replace(behaviour, status=int(number))
        elif kind == "slow" and int(number) <= 600_000:
            behaviour = replace(behaviour, delay_ms=int(number))
        elif flag:
            behaviour = replace(_FLAG_BEHAVIOURS[flag], delay_ms=behaviour.delay_ms)
    return behaviour


def echo_reply(message: str, earlier: int, suffix: str = "") -> bytes:
    turns = "turn" if earlier == 1 else "turns"
    text = f" Echo: {message} ({earlier} earlier {turns}){suffix}"
    return json.dumps([{"generated_text": text}]).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as with the real service
    disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (~40 ms)
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), format % args))

    def do_POST(self) -> None:
        started = time.perf_counter()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        match = _PATH.match(self.path.split("?", 1)[0])
        record = ReceivedRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                                 body, match.group(1) if match else None)
        fake = self.server.fake
        fake._record(record)
        if not match:
            self._send_error(record, started, 404, "UnknownOperationException", "no such path")
            return
        try:
            prompt = json.loads(body)["inputs"]
            if not isinstance(prompt, str):
                raise TypeError("inputs must be a string")
        except (ValueError, KeyError, TypeError) as error:
            self._send_error(record, started, 400, "ValidationError", f"bad request body: {error}")
            return
        message, earlier = last_user_message(prompt)
        behaviour = behaviour_for(message, fake._next_behaviour())
        if behaviour.delay_ms:
            time.sleep(behaviour.delay_ms / 1000)
        if behaviour.status != 200:
            error_type = ERROR_TYPES.get(behaviour.status, "InternalFailure")
            self._send_error(record, started, behaviour.status, error_type,
                             f"fake {error_type} ({behaviour.status})")
            return
        reply = behaviour.body if behaviour.body is not None else echo_reply(
            message, earlier, behaviour.reply_suffix)
        self._send(record, started, 200, reply, {})

    def _send_error(self, record: ReceivedRequest, started: float, status: int,
                    error_type: str, message: str) -> None:
        payload: dict[str, Any] = {"__type": error_type, "message": message}
        if error_type == "ModelError":
            payload.update(OriginalStatusCode=500, OriginalMessage="fake model failure",
                           LogStreamArn="arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/fake")
        self._send(record, started, status, json.dumps(payload).encode(),
                   {"x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/"})

    def _send(self, record: ReceivedRequest, started: float, status: int, body: bytes,
              headers: dict[str, str]) -> None:
        record.status = status
        record.model_ms = (time.perf_counter() - started) * 1000
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
            self.send_header("x-amzn-Invoked-Production-Variant", "AllTraffic")
            self.send_header("x-fake-model-ms", f"{record.model_ms:.3f}")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its read timeout)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: "FakeSageMaker"


class FakeSageMaker:
    """The fake on 127.0.0.1, served from a background thread."""

    def __init__(self, port: int = 0, delay_ms: int = 0, host: str = "127.0.0.1",
                 verbose: bool = False, keep_requests: int | None = None) -> None:
        self.default = Behaviour(delay_ms=delay_ms)
        self.requests: list[ReceivedRequest] = []
        self.keep_requests = keep_requests  # None keeps every request
        self.verbose = verbose
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeSageMaker":
        self._server = _Server(self._address, _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-sagemaker",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeSageMaker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def queue(self, *behaviours: Behaviour) -> None:
        """The behaviours of the next requests, in order; markers in a prompt still apply."""
        with self._lock:
            self._queue.extend(behaviours)

    def clear(self) -> None:
        """Forgets queued behaviours and received requests."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    def _next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def _record(self, record: ReceivedRequest) -> None:
        with self._lock:
            self.requests.append(record)
            if self.keep_requests is not None and len(self.requests) > self.keep_requests:
                del self.requests[:-self.keep_requests]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake SageMaker runtime (see the module docstring).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--delay-ms", type=int, default=0, help="wait before every answer")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)

    fake = FakeSageMaker(port=args.port, delay_ms=args.delay_ms, host=args.host,
                         verbose=args.verbose, keep_requests=100)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    with fake:
        print(f"listening on {fake.url}", flush=True)
        while not stopped.wait(3600):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
