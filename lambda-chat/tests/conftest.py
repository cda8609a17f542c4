"""Fixtures for the chat Lambda's tests: the fake model and AWS stand-ins, cold starts, events, context.

boto3 runs for real: its clients are pointed at dev/fake_sagemaker.py
(AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME), dev/fake_aws.py's management API
(CONNECTIONS_ENDPOINT) and Lambda Invoke (AWS_ENDPOINT_URL_LAMBDA), with dummy
credentials. Nothing leaves 127.0.0.1.
"""

import importlib
import json
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_DIR = ROOT / "lambda-chat"
EVENTS = Path(__file__).resolve().parent / "events"
sys.path[:0] = [str(LAMBDA_DIR), str(ROOT / "dev")]

from fake_aws import FakeLambda, FakeManagementApi  # noqa: E402
from fake_sagemaker import Behaviour, FakeSageMaker  # noqa: E402

ENDPOINT_NAME = "jumpstart-dft-hf-llm-falcon-7b-instruct-bf16"
SITE_ORIGIN = "https://d111111abcdef8.cloudfront.net"  # the Origin of tests/events/ws_connect.json

# Every variable the handler reads; each test starts from none of them set.
CONFIG_VARS = (
    "endpoint", "MAX_NEW_TOKENS", "TEMPERATURE", "TOP_P", "TOP_K", "REPETITION_PENALTY",
    "DO_SAMPLE", "STOP_SEQUENCES", "MAX_TEXT_CHARS", "MAX_HISTORY_TURNS", "MAX_HISTORY_CHARS",
    "MODEL_CONNECT_TIMEOUT_SECONDS", "MODEL_READ_TIMEOUT_SECONDS", "MODEL_MAX_ATTEMPTS",
    "MODEL_MAX_INPUT_TOKENS", "MODEL_MAX_TOTAL_TOKENS", "PAYLOAD_STYLE", "MODEL_TOKENIZER", "SYSTEM_PROMPT",
    "CONNECTIONS_ENDPOINT", "ALLOWED_ORIGINS", "CONNECTIONS_TABLE", "MAX_ANSWERS_PER_CONNECTION",
    "STREAM_BATCH_MS", "STREAM_READ_TIMEOUT_SECONDS",
    "LOG_PROMPTS", "AWS_LAMBDA_LOG_FORMAT", "AWS_PROFILE", "AWS_SESSION_TOKEN",
    "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA",
    "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI",
    "AUTH", "TICKETS_TABLE", "USAGE_TABLE", "DAILY_ANSWERS_PER_USER", "TICKET_TTL_SECONDS", "ADMIN_GROUP",
    "CONVERSATIONS_TABLE", "CONVERSATION_RETENTION_DAYS", "CONVERSATION_DELETE_BUDGET_SECONDS",
)


class LambdaContext:
    """The context object the Python runtime passes (the attributes a handler may read)."""

    def __init__(self, function_name: str = "lambda-chat-api-dev", timeout_s: float = 120) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:ap-northeast-2:123456789012:function:{function_name}"
        self.memory_limit_in_mb = "256"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# The fake model as tests use it: TGI's Falcon 7B limits, streams without waiting.
FAKE_DEFAULTS = {"endpoint_state": "in-service", "max_input_tokens": 1024, "max_total_tokens": 2048,
                 "first_token_ms": 0, "tokens_per_second": 0, "chat_template": "falcon3"}


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeSageMaker]:
    with FakeSageMaker(**FAKE_DEFAULTS) as fake:
        yield fake


@pytest.fixture
def model(fake_server: FakeSageMaker) -> Iterator[FakeSageMaker]:
    """The fake model, with no queued behaviours, no recorded requests and its test defaults."""
    fake_server.clear()
    fake_server.default = Behaviour()
    for name, value in FAKE_DEFAULTS.items():
        setattr(fake_server, name, value)
    yield fake_server
    fake_server.clear()


@pytest.fixture(scope="session")
def management_server() -> Iterator[FakeManagementApi]:
    with FakeManagementApi() as api:
        yield api


@pytest.fixture
def connections(management_server: FakeManagementApi) -> FakeManagementApi:
    """The API Gateway management API stand-in, with no recorded frames."""
    management_server.reset()
    return management_server


@pytest.fixture(scope="session")
def lambda_server() -> Iterator[FakeLambda]:
    with FakeLambda() as fake:
        yield fake


@pytest.fixture
def invoke(lambda_server: FakeLambda) -> FakeLambda:
    """The Lambda Invoke stand-in, with no recorded invocations."""
    lambda_server.reset()
    return lambda_server


def cold_start(entry: str) -> ModuleType:
    """Imports `entry` afresh with every module of the package, as a new Lambda process would.

    Every module of lambda-chat/ is dropped first, so whatever reads the environment at
    import (settings, logging, clients created on first use) starts over.
    """
    # Plain string prefixes: building a Path for each of the ~3000 loaded modules on every
    # cold start was a third of this suite's CPU.
    inside, tests = f"{LAMBDA_DIR}{os.sep}", f"{LAMBDA_DIR / 'tests'}{os.sep}"
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if file.startswith(inside) and not file.startswith(tests):  # its packages too
            del sys.modules[name]
    return importlib.import_module(entry)


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch, model: FakeSageMaker,
                 tmp_path: Path) -> Callable[..., ModuleType]:
    """A cold start: sets the environment (defaults + overrides; None unsets) and re-imports."""

    def load(**env: str | None) -> ModuleType:
        set_environment(monkeypatch, model, tmp_path, env)
        return cold_start("lambda_function")

    return load


def set_environment(monkeypatch: pytest.MonkeyPatch, model: FakeSageMaker, tmp_path: Path,
                    env: dict[str, str | None]) -> None:
    """The test defaults (the fake model, dummy credentials) plus overrides; None unsets."""
    for name in CONFIG_VARS:
        monkeypatch.delenv(name, raising=False)
    base = {
        "endpoint": ENDPOINT_NAME,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": model.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "ap-northeast-2",
        "AWS_REGION": "ap-northeast-2",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }
    for name, value in {**base, **env}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@pytest.fixture
def load_stream(monkeypatch: pytest.MonkeyPatch, model: FakeSageMaker, connections: FakeManagementApi,
                invoke: FakeLambda, tmp_path: Path) -> Callable[..., ModuleType]:
    """A cold start of the stream function, wired to the fake model and the AWS stand-ins."""

    def load(**env: str | None) -> ModuleType:
        stream_env: dict[str, str | None] = {
            "CONNECTIONS_ENDPOINT": connections.url("dev"),
            "ALLOWED_ORIGINS": json.dumps([SITE_ORIGIN]),
            "AWS_ENDPOINT_URL_LAMBDA": invoke.url,
            "STREAM_BATCH_MS": "0",
        }
        set_environment(monkeypatch, model, tmp_path, {**stream_env, **env})
        return cold_start("stream_function")

    return load


@pytest.fixture
def stream(load_stream: Callable[..., ModuleType]) -> ModuleType:
    """The stream function after a cold start with the test configuration."""
    return load_stream()


class WebSocketDriver:
    """Drives the stream function as API Gateway and Lambda would, for one connection.

    Events are tests/events/ws_*.json with the connection id, headers or body replaced;
    a `chat` route's asynchronous self-invocation is recorded by the Lambda stand-in and
    `run_jobs` feeds its payload back to the handler, as Lambda would.
    """

    def __init__(self, module: ModuleType, connections: FakeManagementApi, invoke: FakeLambda,
                 connection_id: str = "CxT1beXSIE0CJaw=") -> None:
        self.module = module
        self.connections = connections
        self.invoke = invoke
        self.connection_id = connection_id
        self.context = LambdaContext("lambda-chat-stream-dev", timeout_s=300)
        self._jobs_run = 0

    def event(self, name: str) -> dict[str, Any]:
        event = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
        event["requestContext"]["connectionId"] = self.connection_id
        return event

    def connect(self, headers: dict[str, str] | None = None) -> Any:
        event = self.event("ws_connect")
        if headers is not None:
            event["headers"] = headers
            event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
        return self.module.lambda_handler(event, self.context)

    def disconnect(self) -> Any:
        return self.module.lambda_handler(self.event("ws_disconnect"), self.context)

    def send(self, frame: Any, route: str = "chat") -> Any:
        """Sends a message (a dict is sent as JSON, a str as it is) through `route`."""
        event = self.event("ws_chat")
        event["requestContext"]["routeKey"] = route
        event["body"] = frame if isinstance(frame, str) else json.dumps(frame, ensure_ascii=False)
        return self.module.lambda_handler(event, self.context)

    def run_jobs(self, context: "LambdaContext | None" = None) -> None:
        """Runs the stream jobs the routes handed to Lambda since the last call."""
        for invocation in self.invoke.invocations[self._jobs_run:]:
            assert invocation.invocation_type == "Event"
            assert invocation.function == self.context.invoked_function_arn
            self.module.lambda_handler(invocation.payload, context or self.context)
            self._jobs_run += 1

    def ask(self, frame: Any, context: "LambdaContext | None" = None) -> list[Any]:
        """Sends a frame, runs the job it started (if any); returns every frame received since,
        after checking that a job's first frame is its `started` acknowledgement (left out)."""
        before = len(self.frames())
        self.send(frame)
        routed, jobs = len(self.frames()), self._jobs_run
        self.run_jobs(context)
        received = self.frames()
        job_frames = received[routed:]
        if self._jobs_run > jobs and job_frames:
            assert job_frames[0] == {"type": "started", "id": frame.get("id")}, job_frames[0]
            job_frames = job_frames[1:]
        return received[before:routed] + job_frames

    def frames(self) -> list[Any]:
        return self.connections.frames(self.connection_id)


@pytest.fixture
def ws(stream: ModuleType, connections: FakeManagementApi, invoke: FakeLambda) -> WebSocketDriver:
    """One WebSocket connection to the stream function (default configuration)."""
    return WebSocketDriver(stream, connections, invoke)


@pytest.fixture
def ws_with(load_stream: Callable[..., ModuleType], connections: FakeManagementApi,
            invoke: FakeLambda) -> Callable[..., WebSocketDriver]:
    """A connection to the stream function cold-started with these environment overrides."""
    return lambda **env: WebSocketDriver(load_stream(**env), connections, invoke)


@pytest.fixture
def handler(load_handler: Callable[..., ModuleType]) -> ModuleType:
    """The handler module after a cold start with the default configuration."""
    return load_handler()


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def load_event() -> Callable[[str], Any]:
    """Reads tests/events/<name>.json: a request body as API Gateway passes it through
    (ws_*.json: WebSocket proxy events as API Gateway sends them to the stream function)."""
    return lambda name: json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def endpoint_name() -> str:
    return ENDPOINT_NAME


@pytest.fixture
def unresponsive_port() -> Iterator[int]:
    """A loopback port whose accept queue is full, so new connections time out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))
    yield port
    filler.close()
    listener.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The saved-conversation fixtures live in their own module (one concern); imported here so
# every test module can use them. __all__ marks them as what this conftest provides.
from conversation_support import api, dynamodb, load_api, seed, tables  # noqa: E402

__all__ = ["api", "dynamodb", "load_api", "seed", "tables"]
