"""The conversations table: listing, reading, renaming, and saving a turn (deletes: deletion.py).

Every Query names the caller's partition (`user_id = :user`, keys.py) and reads strongly
consistently (a local secondary index allows it, unlike a global one). A Query page stops
at 1 MB, so every listing follows LastEvaluatedKey until it has what was asked for; expired
items (TTL deletes lazily) are skipped, never counted.
"""

import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from core.aws_clients import aws_client
from core.contract import ChatError
from conversations.items import expired
from conversations.keys import INDEX, UserKeys, is_conversation_id, updated_key
from conversations.settings import ConversationSettings

NOT_FOUND = "no such conversation"


def dynamodb_client() -> Any:
    # Reads, UpdateItem SET and deletes are idempotent; TransactWriteItems carries a
    # ClientRequestToken, so botocore's retry of it is not applied twice.
    return aws_client("dynamodb", connect_timeout=2, read_timeout=5, max_attempts=3)


def not_found() -> ChatError:
    """The one answer for an id that is malformed, another person's, deleted or expired."""
    return ChatError(404, NOT_FOUND)


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    more: bool  # another page may follow the last item


@dataclass(frozen=True)
class SavedTurn:
    """One question and its answer, as saved at the end of an answer."""

    conversation_id: str
    new: bool  # True: the conversation item is created (title from the question)
    title: str | None
    turn: str  # turn key (keys.turn_key)
    question: str
    question_at: int  # epoch ms
    answer_at: int
    status: str  # "ok" | "stopped" | "failed"
    answer: str | None  # None for a failed answer
    error: ChatError | None = None
    replaces_failed: bool = False  # retry: overwrite the failed newest turn, count nothing new


class ConversationStore:
    def __init__(self, settings: ConversationSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.table = settings.table
        self.clock = clock

    # ------------------------------------------------------------------ reading

    def _pages(self, request: dict[str, Any], page_limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The live items of a Query, page after page (LastEvaluatedKey), in the Query's order."""
        client, now = dynamodb_client(), self.clock()
        request = {"TableName": self.table, "ConsistentRead": True, **request}
        while True:
            page = client.query(**request, **({"Limit": page_limit} if page_limit else {}))
            yield from (item for item in page["Items"] if not expired(item, now))
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _page(self, request: dict[str, Any], limit: int) -> Page:
        """Up to `limit` live items; `more` when one more exists (the Query asks for limit + 1)."""
        items: list[dict[str, Any]] = []
        for item in self._pages(request, page_limit=limit + 1):
            if len(items) == limit:
                return Page(items, True)
            items.append(item)
        return Page(items, False)

    def conversations(self, keys: UserKeys, limit: int, start: dict[str, Any] | None) -> Page:
        """The caller's conversations, newest updated first (the sparse index by-updated)."""
        return self._page({"IndexName": INDEX, "KeyConditionExpression": "user_id = :user",
                           "ExpressionAttributeValues": keys.partition, "ScanIndexForward": False,
                           **({"ExclusiveStartKey": start} if start else {})}, limit)

    def conversation(self, keys: UserKeys, conversation_id: Any) -> dict[str, Any]:
        """The caller's conversation item, or 404 (malformed id, another person's, gone, expired)."""
        if not is_conversation_id(conversation_id):
            raise not_found()
        item = dynamodb_client().get_item(TableName=self.table, Key=keys.conversation(conversation_id),
                                          ConsistentRead=True).get("Item")
        if item is None or expired(item, self.clock()):
            raise not_found()
        return item

    def _messages_request(self, keys: UserKeys, conversation_id: str, oldest_first: bool) -> dict[str, Any]:
        return {"KeyConditionExpression": "user_id = :user AND begins_with(item_key, :prefix)",
                "ExpressionAttributeValues": {**keys.partition,
                                              ":prefix": {"S": keys.messages_prefix(conversation_id)}},
                "ScanIndexForward": oldest_first}

    def messages(self, keys: UserKeys, conversation_id: str, limit: int, start: dict[str, Any] | None) -> Page:
        """A page of the conversation's messages, oldest first."""
        request = self._messages_request(keys, conversation_id, True)
        return self._page({**request, **({"ExclusiveStartKey": start} if start else {})}, limit)

    def all_messages(self, keys: UserKeys, conversation_id: str, newest_first: bool = False) -> Iterator[dict[str, Any]]:
        return self._pages(self._messages_request(keys, conversation_id, not newest_first))

    # ------------------------------------------------------------------ writing

    def rename(self, keys: UserKeys, conversation_id: Any, title: str) -> dict[str, Any]:
        if not is_conversation_id(conversation_id):
            raise not_found()
        client = dynamodb_client()
        try:
            return client.update_item(
                TableName=self.table, Key=keys.conversation(conversation_id),
                UpdateExpression="SET title = :title, title_set = :true",
                ConditionExpression="attribute_exists(item_key) AND "
                                    "(attribute_not_exists(expires_at) OR expires_at > :now)",
                ExpressionAttributeValues={":title": {"S": title}, ":true": {"BOOL": True},
                                           ":now": {"N": str(int(self.clock()))}},
                ReturnValues="ALL_NEW")["Attributes"]
        except client.exceptions.ConditionalCheckFailedException:
            raise not_found() from None

    def save(self, keys: UserKeys, turn: SavedTurn) -> None:
        """The question, the answer and the conversation's update in one TransactWriteItems:
        all three or none. Raises (TransactionCanceledException) when the conversation was
        deleted meanwhile, or a retried turn is no longer the failed one."""
        question = {**keys.message(turn.conversation_id, turn.turn, "0"), "role": {"S": "user"},
                    "content": {"S": turn.question}, "at": {"N": str(turn.question_at)}}
        answer: dict[str, Any] = {**keys.message(turn.conversation_id, turn.turn, "1"),
                                  "role": {"S": "assistant"}, "at": {"N": str(turn.answer_at)},
                                  "status": {"S": turn.status}}
        if turn.answer is not None:
            answer["content"] = {"S": turn.answer}
        if turn.error is not None:
            answer["error"] = {"M": {"status": {"N": str(turn.error.status)}, "reason": {"S": turn.error.reason},
                                     "message": {"S": turn.error.message}}}
        for item, at in ((question, turn.question_at), (answer, turn.answer_at)):
            if (expires := self.settings.expires_at(at)) is not None:
                item["expires_at"] = {"N": str(expires)}
        put_answer: dict[str, Any] = {"TableName": self.table, "Item": answer}
        if turn.replaces_failed:  # only over the failed answer it replaces (a concurrent retry loses)
            put_answer.update(ConditionExpression="#status = :failed",
                              ExpressionAttributeNames={"#status": "status"},
                              ExpressionAttributeValues={":failed": {"S": "failed"}})
        dynamodb_client().transact_write_items(
            ClientRequestToken=str(uuid.uuid4()),
            TransactItems=[{"Put": {"TableName": self.table, "Item": question}}, {"Put": put_answer},
                           {"Update": self._conversation_update(keys, turn)}])

    def _conversation_update(self, keys: UserKeys, turn: SavedTurn) -> dict[str, Any]:
        values: dict[str, Any] = {
            ":at": {"N": str(turn.answer_at)}, ":count": {"N": "0" if turn.replaces_failed else "2"},
            ":updated": {"S": updated_key(turn.answer_at, turn.conversation_id)}}
        sets = ["updated_at = :at", "updated_key = :updated"]
        removes = []
        expires = self.settings.expires_at(turn.answer_at)  # a conversation goes with its last message
        if expires is not None:
            sets.append("expires_at = :expires")
            values[":expires"] = {"N": str(expires)}
        else:
            removes.append("expires_at")  # kept again after retention was switched off
        if turn.new:
            sets += ["title = :title", "title_set = :false", "created_at = :created"]
            values.update({":title": {"S": turn.title or ""}, ":false": {"BOOL": False},
                           ":created": {"N": str(turn.question_at)}})
        expression = f"SET {', '.join(sets)} ADD message_count :count"
        if removes:
            expression += f" REMOVE {', '.join(removes)}"
        return {"TableName": self.table, "Key": keys.conversation(turn.conversation_id),
                "UpdateExpression": expression, "ExpressionAttributeValues": values,
                "ConditionExpression": "attribute_not_exists(item_key)" if turn.new else "attribute_exists(item_key)"}

