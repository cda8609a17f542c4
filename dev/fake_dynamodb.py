"""One DynamoDB that every Python process of the dev server shares (and the tests use).

moto's emulator served by a single-threaded HTTP server: requests run one after another,
as DynamoDB applies writes to one item one after another, so a conditional UpdateItem is
atomic here too (moto's threaded server gives no such guarantee). Creates the sign-in
tables, the connections table and the saved-conversations table (with its local
secondary index) with the stack's key schemas.

    python3 dev/fake_dynamodb.py [--port 0] [--prefix chatbot-dev]   # prints "listening on http://..."
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any

TABLES: dict[str, dict[str, Any]] = {
    # name suffix: (key schema), as stacks/signin/identity-store.ts and stacks/chat-stream.ts create them
    "tickets": {"KeySchema": [{"AttributeName": "ticket_hash", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "ticket_hash", "AttributeType": "S"}]},
    "daily-usage": {"KeySchema": [{"AttributeName": "user_id", "KeyType": "HASH"},
                                  {"AttributeName": "day", "KeyType": "RANGE"}],
                    "AttributeDefinitions": [{"AttributeName": "user_id", "AttributeType": "S"},
                                             {"AttributeName": "day", "AttributeType": "S"}]},
    "connections": {"KeySchema": [{"AttributeName": "connectionId", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "connectionId", "AttributeType": "S"}]},
    # Saved conversations (CONVERSATIONS-SPEC.md "Table"): one partition per person, one item
    # per conversation and per message; `by-updated` is sparse (only conversations carry
    # updated_key), so it lists a person's conversations newest first.
    "conversations": {
        "KeySchema": [{"AttributeName": "user_id", "KeyType": "HASH"},
                      {"AttributeName": "item_key", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "user_id", "AttributeType": "S"},
                                 {"AttributeName": "item_key", "AttributeType": "S"},
                                 {"AttributeName": "updated_key", "AttributeType": "S"}],
        "LocalSecondaryIndexes": [{
            "IndexName": "by-updated",
            "KeySchema": [{"AttributeName": "user_id", "KeyType": "HASH"},
                          {"AttributeName": "updated_key", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}]},
}


class LocalDynamoDb:
    """moto's DynamoDB on one thread; `start()` serves it from a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(host, port, app, threaded=False)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "LocalDynamoDb":
        self._thread = threading.Thread(target=self._server.serve_forever, name="dynamodb", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def client(self) -> Any:
        import boto3
        return boto3.client("dynamodb", endpoint_url=self.url, region_name="ap-northeast-2",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def create_tables(self, prefix: str) -> dict[str, str]:
        """The tables, named `<prefix>-<suffix>`; returns suffix -> name."""
        client = self.client()
        names = {}
        for suffix, schema in TABLES.items():
            name = f"{prefix}-{suffix}"
            client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **schema)
            names[suffix] = name
        return names


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--prefix", default="chatbot-dev")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    db = LocalDynamoDb(port=args.port).start()
    db.create_tables(args.prefix)
    print(f"listening on {db.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    db.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
