"""A fake SageMaker runtime for tests, benchmarks and the local dev server (stdlib only).

It speaks the wire format botocore uses for InvokeEndpoint and
InvokeEndpointWithResponseStream, so a real boto3 `sagemaker-runtime` client pointed at
it (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=<url>, any dummy credentials) runs its normal
request and response path. The model behind it is a TGI stand-in (dev/fake_tgi.py):

    POST /endpoints/<name>/invocations                 body: {"inputs": "...", "parameters": {...}}
    200  [{"generated_text": " Echo: <last user message> (<n> earlier turns)"}]

    POST /endpoints/<name>/invocations-response-stream body: the same, with "stream": true
    200  Content-Type: application/vnd.amazon.eventstream,
         X-Amzn-SageMaker-Content-Type: text/event-stream; a chunked body of event-stream
         messages (botocore/eventstream.py framing), each a PayloadPart whose bytes carry
         TGI's server-sent events for the same reply, one token at a time. SSE lines are
         split across PayloadParts at arbitrary bytes (mid-JSON, mid-UTF-8 character),
         with keep-alive lines (`:`) now and then. Paced like a real model: the first
         token after `first_token_ms` (300), then `tokens_per_second` (30); 0 is no wait.
         A non-streaming answer waits as long as its stream would take, as a real model's does.

    POST ... body: {"messages": [...], "max_tokens": ..., ["stream": true, "stream_options": ...]}
    TGI's Messages API (dev/fake_chat.py): a chat completion, or chat.completion.chunk
    events ending in data:[DONE], rendered with a stand-in Falcon 3 chat template
    (`chat_template`; None answers TGI's 422 "Template error: template not found").

The reply echoes the last user message of the prompt: the last user turn of `messages`,
the whole prompt, or, for a
Falcon chat prompt ("User: ...\\nFalcon: ...\\nUser: <text>\\nFalcon:"), the last
"User:" turn, and says how many earlier turns (User/Falcon lines) it saw. Every
non-streaming response carries `x-fake-model-ms`: the fake's own time for the request.

Errors use the shape botocore parses for this service: the status, an
`x-amzn-ErrorType` header and a JSON body `{"__type": ..., "message": ...}`.
Like TGI with JumpStart's Falcon 7B settings, the model refuses prompts over
`max_input_tokens` (1024) or with prompt + max_new_tokens over `max_total_tokens` (2048),
counted by the stand-in tokenizer: InvokeEndpoint answers SageMaker's relay of TGI's 422
(424 ModelError, OriginalStatusCode 422, OriginalMessage = TGI's JSON); a stream carries
TGI's `data:{"error": "Input validation error: ...", "error_type": "validation"}`.
The endpoint's state (`endpoint_state`): "in-service"; "missing" answers SageMaker's
400 ValidationError "Endpoint <name> of account 000000000000 not found."; "creating"
a 400 ValidationError saying it is not in service (that wording is an assumption).

Markers such as [[fail:429]] in the last user message choose one request's behaviour;
dev/fake_behaviour.py lists them.

From Python:

    with FakeSageMaker() as fake:          # or fake = FakeSageMaker().start(); fake.stop()
        fake.url                           # http://127.0.0.1:PORT
        fake.queue(Behaviour.fail(424), Behaviour.slow(2000))   # the next requests, in order
        fake.queue(Behaviour.answer(" Paris."))                 # this text instead of the echo
        fake.default = Behaviour(delay_ms=50)                  # every other request
        fake.max_input_tokens = 300        # also max_total_tokens, endpoint_state,
        ...                                # first_token_ms, tokens_per_second
        fake.requests                      # [ReceivedRequest(path, headers, body, ...)]
        # a stream's record also has tokens_sent, tokens_total, client_gone (the client
        # closed the connection before the end) and finished (an Event: the fake is done)

From the command line (serves until SIGINT/SIGTERM):

    python3 dev/fake_sagemaker.py --port 0 [--delay-ms 0] [--endpoint-state in-service|missing|creating]
        [--max-input-tokens 1024] [--max-total-tokens 2048] [--first-token-ms 300]
        [--tokens-per-second 30] [--chat-template falcon3|none] [--model-id ID] [--verbose]
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
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Iterator

import fake_chat
import fake_tgi
from fake_behaviour import Behaviour, behaviour_for, reply_text
from fake_eventstream import Splitter, payload_part, stream_exception
from loopback_server import LoopbackServer, OwnedServer

__all__ = ["Behaviour", "FakeSageMaker", "ReceivedRequest"]

ACCOUNT = "000000000000"
ERROR_TYPES = {
    400: "ValidationError",
    424: "ModelError",
    429: "ThrottlingException",
    500: "InternalFailure",
    503: "ServiceUnavailable",
}
ENDPOINT_STATES = ("in-service", "missing", "creating")
_PATH = re.compile(r"^/endpoints/([^/]+)/(invocations|invocations-response-stream)$")
_STREAM_FAULTS = {
    "midfail": stream_exception("ModelStreamError", {"Message": "fake model stream error",
                                                     "ErrorCode": "StreamBroken"}),
    "streamfail": stream_exception("InternalStreamFailure", {"Message": "fake internal stream failure"}),
}


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    endpoint: str | None
    model_ms: float = 0.0  # the fake's own time for it, delay included
    status: int = 0
    stream: bool = False
    tokens_sent: int = 0  # stream: token events written
    tokens_total: int = 0  # stream: token events the answer has
    client_gone: bool = False  # stream: the client closed the connection before the end
    finished: threading.Event = field(default_factory=threading.Event)  # the fake is done with it

    def json(self) -> Any:
        return json.loads(self.body)


# ------------------------------------------------------------------- HTTP server

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as with the real service
    disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (~40 ms)
    server: OwnedServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.owner.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), format % args))

    def do_POST(self) -> None:
        started = time.perf_counter()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        match = _PATH.match(self.path.split("?", 1)[0])
        record = ReceivedRequest("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                                 body, match.group(1) if match else None,
                                 stream=bool(match and match.group(2).endswith("stream")))
        fake = self.server.owner
        fake._record(record)
        try:
            self._answer(record, match, started)
        finally:
            if record.stream:
                record.model_ms = (time.perf_counter() - started) * 1000
            record.finished.set()

    def _answer(self, record: ReceivedRequest, match: re.Match[str] | None, started: float) -> None:
        fake = self.server.owner
        if not match:
            self._send_error(record, started, 404, "UnknownOperationException", "no such path")
            return
        try:
            request = json.loads(record.body)
            chat = "messages" in request  # TGI's Messages API (fake_chat.py)
            prompt = request["messages"] if chat else request["inputs"]
            if not chat and not isinstance(prompt, str):
                raise TypeError("inputs must be a string")
            parameters = {} if chat else request.get("parameters") or {}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            self._send_error(record, started, 400, "ValidationError", f"bad request body: {error}")
            return
        if chat:
            try:  # the template, then the parameters: both refused before any stream (HTTP 422)
                prompt = fake_chat.render(request["messages"], fake.chat_template)
                refused = fake_chat.parameter_error(request)
            except fake_chat.TemplateError as error:
                refused = str(error)
            if refused:
                self._send_tgi_422(record, started, refused, fake_chat.error_body(refused))
                return
            message, earlier = fake_chat.last_user_message(request["messages"])
        else:
            message, earlier = fake_tgi.last_user_message(prompt)
        behaviour = behaviour_for(message, fake._next_behaviour())
        if behaviour.delay_ms:
            time.sleep(behaviour.delay_ms / 1000)
        state = behaviour.endpoint_state or fake.endpoint_state
        if state != "in-service":
            name = record.endpoint
            reason = (f"Endpoint {name} of account {ACCOUNT} not found." if state == "missing" else
                      f"Endpoint {name} of account {ACCOUNT} is not in service: its status is Creating.")
            self._send_error(record, started, 400, "ValidationError", reason)
            return
        if behaviour.status != 200:
            error_type = ERROR_TYPES.get(behaviour.status, "InternalFailure")
            original = behaviour.original and {"OriginalStatusCode": behaviour.original[0],
                                               "OriginalMessage": behaviour.original[1]}
            self._send_error(record, started, behaviour.status, error_type,
                             behaviour.error_message or f"fake {error_type} ({behaviour.status})", original)
            return
        max_new_tokens = request.get("max_tokens") if chat else parameters.get("max_new_tokens")
        too_long = fake_tgi.too_long_message(prompt, max_new_tokens, fake.max_input_tokens,
                                             fake.max_total_tokens)
        text = reply_text(message, earlier, behaviour)
        if record.stream:
            self._stream(record, behaviour, text, parameters, prompt, too_long, request if chat else None)
        elif chat and too_long:
            self._send_tgi_422(record, started, too_long, fake_chat.error_body(too_long))
        elif too_long:
            self._send_tgi_422(record, started, too_long)
        elif behaviour.stream_fault in ("midfail", "tgierror", "streamfail"):
            status = 500 if behaviour.stream_fault == "streamfail" else 424
            self._send_error(record, started, status, ERROR_TYPES[status], f"fake {ERROR_TYPES[status]}")
        else:
            # As long as the same answer takes to stream: POST and streaming compare honestly.
            time.sleep(fake_tgi.generation_seconds(text, prompt, max_new_tokens,
                                                   fake_tgi.Pace(fake.first_token_ms, fake.tokens_per_second)))
            if behaviour.stream_fault == "stall":
                time.sleep(behaviour.stall_ms / 1000)
            if behaviour.body is not None and not (chat and behaviour.text is not None):
                reply = behaviour.body  # a raw body (malformed, or a test's own)
            elif chat:
                reply = json.dumps(fake_chat.completion(text, prompt, max_new_tokens, fake.model_id)).encode()
            else:
                reply = json.dumps([{"generated_text": text}]).encode()
            self._send(record, started, 200, reply, {})

    # -- non-streaming answers

    def _send_error(self, record: ReceivedRequest, started: float, status: int,
                    error_type: str, message: str, extra: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {"__type": error_type, "message": message}
        if error_type == "ModelError":
            payload.update(OriginalStatusCode=500, OriginalMessage="fake model failure",
                           LogStreamArn=f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/fake")
        payload.update(extra or {})
        self._send(record, started, status, json.dumps(payload).encode(),
                   {"x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/"})

    def _send_tgi_422(self, record: ReceivedRequest, started: float, too_long: str,
                      original: str | None = None) -> None:
        """SageMaker's relay of the container's 422 (a ModelError, HTTP 424)."""
        original = original or fake_tgi.error_body(too_long, "validation")
        name = record.endpoint
        message = (f'Received client error (422) from primary with message "{original}". See '
                   f"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:"
                   f"group=/aws/sagemaker/Endpoints/{name} in account {ACCOUNT} for more information.")
        self._send_error(record, started, 424, "ModelError", message, {
            "ErrorCode": "CLIENT_ERROR_FROM_MODEL", "OriginalStatusCode": 422,
            "OriginalMessage": original})

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

    # -- streaming answers

    def _stream(self, record: ReceivedRequest, behaviour: Behaviour, text: str,
                parameters: dict[str, Any], prompt: str, too_long: str | None,
                chat: dict[str, Any] | None = None) -> None:
        fake = self.server.owner
        record.status = 200
        splitter = Splitter(behaviour.part_bytes, seed=len(record.body))
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.amazon.eventstream")
            self.send_header("X-Amzn-SageMaker-Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
            self.send_header("x-amzn-Invoked-Production-Variant", "AllTraffic")
            self.end_headers()
            pace = fake_tgi.Pace(fake.first_token_ms, fake.tokens_per_second)
            fault = fake_tgi.Fault(behaviour.stream_fault, behaviour.stall_ms)
            details = parameters.get("details") is True  # TGI's final `details` only when asked
            items = (fake_chat.stream(text, prompt, chat, too_long, pace, fault, record, fake.model_id)
                     if chat is not None else
                     fake_tgi.stream(text, prompt, parameters.get("max_new_tokens"), too_long, pace,
                                     fault, record, details))
            for item in items:
                if isinstance(item, float):  # a pause: send what is pending first
                    self._chunks(payload_part(p) for p in splitter.flush())
                    time.sleep(item)
                elif isinstance(item, bytes):
                    self._chunks(payload_part(p) for p in splitter.feed(item))
                else:  # SageMaker's own error event ends the stream
                    self._chunks(payload_part(p) for p in splitter.flush())
                    self._chunks([_STREAM_FAULTS[item]])
                    break
            self._chunks(payload_part(p) for p in splitter.flush())
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            record.client_gone = True
            self.close_connection = True

    def _chunks(self, messages: Iterator[bytes] | list[bytes]) -> None:
        for message in messages:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(message), message))
        self.wfile.flush()


class FakeSageMaker(LoopbackServer):
    """The fake on 127.0.0.1, served from a background thread."""

    handler = _Handler
    url = LoopbackServer.base_url  # http://127.0.0.1:PORT, what AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME takes

    def __init__(self, port: int = 0, delay_ms: int = 0, host: str = "127.0.0.1",
                 verbose: bool = False, keep_requests: int | None = None,
                 endpoint_state: str = "in-service", max_input_tokens: int = 1024,
                 max_total_tokens: int = 2048, first_token_ms: int = 300,
                 tokens_per_second: float = 30, chat_template: str | None = "falcon3",
                 model_id: str = "tiiuae/Falcon3-7B-Instruct") -> None:
        if endpoint_state not in ENDPOINT_STATES:
            raise ValueError(f"endpoint_state must be one of {ENDPOINT_STATES}")
        super().__init__(host, port)
        self.default = Behaviour(delay_ms=delay_ms)
        self.requests: list[ReceivedRequest] = []
        self.keep_requests = keep_requests  # None keeps every request
        self.verbose = verbose
        self.endpoint_state = endpoint_state
        self.max_input_tokens = max_input_tokens
        self.max_total_tokens = max_total_tokens
        self.first_token_ms = first_token_ms
        self.tokens_per_second = tokens_per_second
        self.chat_template = chat_template  # None: a model without one ("template not found")
        self.model_id = model_id  # what TGI reports as `model`
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()

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
    parser.add_argument("--endpoint-state", choices=ENDPOINT_STATES, default="in-service",
                        help="answer as SageMaker does for an endpoint in this state")
    parser.add_argument("--max-input-tokens", type=int, default=1024, help="TGI MAX_INPUT_LENGTH")
    parser.add_argument("--max-total-tokens", type=int, default=2048, help="TGI MAX_TOTAL_TOKENS")
    parser.add_argument("--first-token-ms", type=int, default=300, help="a stream's wait for its first token")
    parser.add_argument("--tokens-per-second", type=float, default=30, help="a stream's pace (0: no wait)")
    parser.add_argument("--chat-template", choices=("falcon3", "none"), default="falcon3",
                        help="the Messages API's template (none: refuse messages bodies, as a model without one)")
    parser.add_argument("--model-id", default="tiiuae/Falcon3-7B-Instruct", help="the model TGI names in its answers")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)

    fake = FakeSageMaker(port=args.port, delay_ms=args.delay_ms, host=args.host,
                         verbose=args.verbose, keep_requests=100, endpoint_state=args.endpoint_state,
                         max_input_tokens=args.max_input_tokens, max_total_tokens=args.max_total_tokens,
                         first_token_ms=args.first_token_ms, tokens_per_second=args.tokens_per_second,
                         chat_template=None if args.chat_template == "none" else args.chat_template,
                         model_id=args.model_id)
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
