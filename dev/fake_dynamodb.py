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
import io
import json
import logging
import os
import signal
import sys
import threading
import zlib
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


class _Unprocessed:
    """WSGI middleware: the next `batches` BatchWriteItem calls apply only the first half of
    each table's requests and hand the rest back as UnprocessedItems, as DynamoDB does when a
    partition is throttled (moto never does). Lets tests prove the retry."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.batches = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.batches <= 0 or not environ.get("HTTP_X_AMZ_TARGET", "").endswith(".BatchWriteItem"):
            return self.app(environ, start_response)
        self.batches -= 1
        request = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        held: dict[str, list[Any]] = {}
        for table, writes in request["RequestItems"].items():
            keep = max(1, len(writes) // 2)
            request["RequestItems"][table], held[table] = writes[:keep], writes[keep:]
        body = json.dumps(request).encode()
        environ.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
        status_headers: list[Any] = []
        answer = b"".join(self.app(environ, lambda status, headers, *_: status_headers.extend([status, headers])))
        reply = json.loads(answer)
        reply["UnprocessedItems"] = {t: w for t, w in held.items() if w}
        data = json.dumps(reply).encode()
        headers = [(k, v) for k, v in status_headers[1] if k.lower() not in ("content-length", "x-amz-crc32")]
        start_response(status_headers[0], [*headers, ("Content-Length", str(len(data))),
                                           ("X-Amz-Crc32", str(zlib.crc32(data)))])
        return [data]


class LocalDynamoDb:
    """moto's DynamoDB on one thread; `start()` serves it from a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        self._unprocessed = _Unprocessed(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(host, port, self._unprocessed, threaded=False)
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

    def leave_unprocessed(self, batches: int) -> None:
        """The next `batches` BatchWriteItem calls each leave half their requests unprocessed."""
        self._unprocessed.batches = batches

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
