"""Fixtures for the saved-conversation tests: the shared DynamoDB stand-in, the API driver, seeding.

Import the fixtures a test module uses (`from conversation_support import ...`): the
package's conftest.py stays the one for every test. DynamoDB is dev/fake_dynamodb.py
(moto, one request at a time) with the conversations table and its local secondary index
exactly as the stack creates it; the functions reach it with real boto3 clients.
"""

import json
import secrets
import time
from types import ModuleType
from typing import Any, Callable, Iterator

import pytest

from conftest import EVENTS, LambdaContext, cold_start, set_environment
from fake_dynamodb import LocalDynamoDb

SUB = "0b6c2d3e-1f20-4a5b-9c8d-7e6f5a4b3c2d"  # the claims' sub of tests/events/conv_*.json
OTHER_SUB = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"


@pytest.fixture(scope="session")
def dynamodb() -> Iterator[LocalDynamoDb]:
    db = LocalDynamoDb().start()
    yield db
    db.stop()


@pytest.fixture
def tables(dynamodb: LocalDynamoDb) -> Iterator[dict[str, str]]:
    """Fresh tables (sign-in's and the conversations table) for one test."""
    names = dynamodb.create_tables(f"t{secrets.token_hex(4)}")
    yield names
    client = dynamodb.client()
    for name in names.values():
        client.delete_table(TableName=name)


def saved_env(dynamodb: LocalDynamoDb, tables: dict[str, str], **extra: str | None) -> dict[str, str | None]:
    """Sign-in and conversations on, as the stack configures the functions."""
    return {"AUTH": "cognito", "USAGE_TABLE": tables["daily-usage"], "TICKETS_TABLE": tables["tickets"],
            "CONNECTIONS_TABLE": tables["connections"], "CONVERSATIONS_TABLE": tables["conversations"],
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb.url, "DAILY_ANSWERS_PER_USER": "0", **extra}


def proxy_event(name: str, sub: str = SUB, conversation_id: str | None = None,
                query: dict[str, str] | None = None, body: Any = None, raw_body: str | None = None) -> dict[str, Any]:
    """tests/events/<name>.json (an API Gateway proxy event) for this caller, id, query and body."""
    event = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    event["requestContext"]["authorizer"]["claims"]["sub"] = sub
    event["requestContext"]["authorizer"]["claims"]["cognito:username"] = sub
    if conversation_id is not None:
        event["pathParameters"] = {"id": conversation_id}
        event["path"] = event["resource"].replace("{id}", conversation_id)
    if query is not None:
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    if body is not None:
        event["body"] = json.dumps(body)
    if raw_body is not None:
        event["body"] = raw_body
    return event


class Answer:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.status = raw["statusCode"]
        self.headers = raw["headers"]
        self.text = raw["body"]

    @property
    def json(self) -> Any:
        assert self.headers["Content-Type"] == "application/json"
        return json.loads(self.text)


class Api:
    """Calls conversations_function as API Gateway's proxy integration would."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def call(self, name: str, **kwargs: Any) -> Answer:
        return Answer(self.module.lambda_handler(proxy_event(name, **kwargs), LambdaContext(
            "lambda-chat-conversations-dev")))

    def listing(self, **kwargs: Any) -> Answer:
        return self.call("conv_list", **{"query": {}, **kwargs})

    def get(self, conversation_id: str, **kwargs: Any) -> Answer:
        return self.call("conv_get", conversation_id=conversation_id, **kwargs)

    def every_conversation(self, sub: str = SUB, limit: int = 100) -> list[dict[str, Any]]:
        found, cursor = [], None
        while True:
            answer = self.listing(sub=sub, query={"limit": str(limit), **({"cursor": cursor} if cursor else {})})
            assert answer.status == 200, answer.text
            found += answer.json["conversations"]
            cursor = answer.json["next"]
            if cursor is None:
                return found


@pytest.fixture
def load_api(monkeypatch, model, tmp_path, dynamodb, tables) -> Callable[..., Api]:
    def load(**env: str | None) -> Api:
        set_environment(monkeypatch, model, tmp_path, saved_env(dynamodb, tables, **env))
        return Api(cold_start("conversations_function"))
    return load


@pytest.fixture
def api(load_api) -> Api:
    return load_api()


class Seeder:
    """Writes conversations through the store's own save (the code the chat paths use)."""

    def __init__(self, store: Any) -> None:
        self.store = store  # conversations.store.ConversationStore of the cold-started function
        self.clock_ms = int(time.time() * 1000) - 10 * 86400 * 1000

    def conversation(self, turns: int = 1, sub: str = SUB, question: str = "What is the capital of France?",
                     answer: str = "Paris.", title: str | None = None, status: str = "ok") -> str:
        from conversations.keys import new_conversation_id, turn_key
        from conversations.store import SavedTurn
        from identity.claims import Caller
        from conversations.keys import keys_for
        keys = keys_for(Caller(sub, False, None))
        conversation_id = new_conversation_id()
        for i in range(turns):
            self.clock_ms += 1000
            last = i == turns - 1
            self.store.save(keys, SavedTurn(
                conversation_id=conversation_id, new=i == 0, title=title or question[:60],
                turn=turn_key(self.clock_ms), question=f"{question} ({i})" if turns > 1 else question,
                question_at=self.clock_ms, answer_at=self.clock_ms + 500,
                status=status if last else "ok", answer=None if status == "failed" and last else answer,
                error=self._error() if status == "failed" and last else None))
        return conversation_id

    @staticmethod
    def _error() -> Any:
        from core.contract import ChatError
        return ChatError(503, "the model is not running (it may be starting up or switched off); try again later")


@pytest.fixture
def seed(api: Api) -> Seeder:
    return Seeder(api.module.ROUTES.store)
