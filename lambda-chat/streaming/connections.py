"""How many answers each WebSocket connection has asked for (MAX_ANSWERS_PER_CONNECTION).

With CONNECTIONS_TABLE set, counts live in DynamoDB (partition key `connectionId`, S):
one atomic UpdateItem adds 1 to `answers` only while it is below the limit and sets
`expires_at` (a TTL attribute, epoch seconds) to 3 hours ahead, past API Gateway's 2 h
connection limit; `$disconnect` deletes the item. Without a table the counts stay in
this process: only for the local dev server, whose route worker is one long-lived
process (separate Lambda instances would each count on their own).
"""

import threading
import time
from typing import Any, Protocol

from core.aws_clients import aws_client
from identity.claims import Caller
from core.settings import StreamSettings

TTL_SECONDS = 3 * 3600


class AnswerCounts(Protocol):
    def count_answer(self, connection_id: str, limit: int) -> int | None:
        """The connection's new count, or None (and no change) when it has reached `limit`."""

    def forget(self, connection_id: str) -> None: ...

    def remember(self, connection_id: str, caller: Caller) -> None:
        """Who opened the connection (from its ticket at $connect)."""

    def caller(self, connection_id: str) -> Caller | None:
        """Who opened the connection, or None (never remembered: sign-in off, or a fault)."""


class MemoryCounts:
    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._callers: dict[str, Caller] = {}
        self._lock = threading.Lock()

    def remember(self, connection_id: str, caller: Caller) -> None:
        with self._lock:
            self._callers[connection_id] = caller

    def caller(self, connection_id: str) -> Caller | None:
        with self._lock:
            return self._callers.get(connection_id)

    def count_answer(self, connection_id: str, limit: int) -> int | None:
        with self._lock:
            count = self._counts.get(connection_id, 0)
            if count >= limit:
                return None
            self._counts[connection_id] = count + 1
            return count + 1

    def forget(self, connection_id: str) -> None:
        with self._lock:
            self._counts.pop(connection_id, None)
            self._callers.pop(connection_id, None)


def dynamodb_client() -> Any:
    return aws_client("dynamodb", connect_timeout=2, read_timeout=5, max_attempts=2)


class DynamoDbCounts:
    def __init__(self, table: str) -> None:
        self.table = table

    def count_answer(self, connection_id: str, limit: int) -> int | None:
        client = dynamodb_client()
        try:
            result = client.update_item(
                TableName=self.table, Key={"connectionId": {"S": connection_id}},
                UpdateExpression="SET expires_at = :expires ADD answers :one",
                ConditionExpression="attribute_not_exists(answers) OR answers < :limit",
                ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(limit)},
                                           ":expires": {"N": str(int(time.time()) + TTL_SECONDS)}},
                ReturnValues="UPDATED_NEW")
        except client.exceptions.ConditionalCheckFailedException:
            return None
        return int(result["Attributes"]["answers"]["N"])

    def remember(self, connection_id: str, caller: Caller) -> None:
        values: dict[str, Any] = {":user": {"S": caller.user_id}, ":admin": {"BOOL": caller.admin},
                                  ":expires": {"N": str(int(time.time()) + TTL_SECONDS)}}
        update = "SET user_id = :user, is_admin = :admin, expires_at = :expires"
        if caller.token_expires_at is not None:
            update += ", token_expires_at = :token_expires"
            values[":token_expires"] = {"N": str(caller.token_expires_at)}
        dynamodb_client().update_item(TableName=self.table, Key={"connectionId": {"S": connection_id}},
                                      UpdateExpression=update, ExpressionAttributeValues=values)

    def caller(self, connection_id: str) -> Caller | None:
        item = dynamodb_client().get_item(TableName=self.table, Key={"connectionId": {"S": connection_id}},
                                          ConsistentRead=True).get("Item") or {}
        if "user_id" not in item:
            return None
        expires = item.get("token_expires_at", {}).get("N")
        return Caller(item["user_id"]["S"], bool(item.get("is_admin", {}).get("BOOL")),
                      int(expires) if expires else None)

    def forget(self, connection_id: str) -> None:
        dynamodb_client().delete_item(TableName=self.table, Key={"connectionId": {"S": connection_id}})


def answer_counts(settings: StreamSettings) -> AnswerCounts:
    return DynamoDbCounts(settings.connections_table) if settings.connections_table else MemoryCounts()
