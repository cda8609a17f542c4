"""Fixtures for the chat Lambda's tests: the fake model, env-driven cold starts, events, context.

boto3 runs for real: its client is pointed at dev/fake_sagemaker.py through
AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, with dummy credentials. Nothing leaves 127.0.0.1.
"""

import importlib
import json
import socket
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTS = Path(__file__).resolve().parent / "events"
sys.path[:0] = [str(ROOT / "lambda-chat"), str(ROOT / "dev")]

from fake_sagemaker import Behaviour, FakeSageMaker  # noqa: E402

ENDPOINT_NAME = "jumpstart-dft-hf-llm-falcon-7b-instruct-bf16"

# Every variable the handler reads; each test starts from none of them set.
CONFIG_VARS = (
    "endpoint", "MAX_NEW_TOKENS", "TEMPERATURE", "TOP_P", "TOP_K", "REPETITION_PENALTY",
    "DO_SAMPLE", "STOP_SEQUENCES", "MAX_TEXT_CHARS", "MAX_HISTORY_TURNS", "MAX_HISTORY_CHARS",
    "MODEL_CONNECT_TIMEOUT_SECONDS", "MODEL_READ_TIMEOUT_SECONDS", "MODEL_MAX_ATTEMPTS",
    "LOG_PROMPTS", "AWS_LAMBDA_LOG_FORMAT", "AWS_PROFILE", "AWS_SESSION_TOKEN",
    "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_ENDPOINT_URL",
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


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeSageMaker]:
    with FakeSageMaker() as fake:
        yield fake


@pytest.fixture
def model(fake_server: FakeSageMaker) -> Iterator[FakeSageMaker]:
    """The fake model, with no queued behaviours and no recorded requests."""
    fake_server.clear()
    fake_server.default = Behaviour()
    yield fake_server
    fake_server.clear()


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch, model: FakeSageMaker,
                 tmp_path: Path) -> Callable[..., ModuleType]:
    """A cold start: sets the environment (defaults + overrides; None unsets) and re-imports."""

    def load(**env: str | None) -> ModuleType:
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
        import lambda_function
        return importlib.reload(lambda_function)

    return load


@pytest.fixture
def handler(load_handler: Callable[..., ModuleType]) -> ModuleType:
    """The handler module after a cold start with the default configuration."""
    return load_handler()


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def load_event() -> Callable[[str], Any]:
    """Reads tests/events/<name>.json: a request body as API Gateway passes it through."""
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
