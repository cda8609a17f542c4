"""Deleting one conversation or all of a person's, in steps that fit API Gateway's 29 s.

The conversation item goes first (one DeleteItem), so it leaves the list at once; then its
messages, 25 keys per BatchWriteItem (the API's limit), each batch's UnprocessedItems sent
again with a backoff. Each step queries the next keys afresh (strongly consistent, so deleted
items do not come back) until none is left. After CONVERSATION_DELETE_BUDGET_SECONDS the
work stops with what is left still there: the answer says so (202) and a repeated DELETE
goes on from where it stopped. At least one batch is done per call, so repeats always finish.
"""

import random
import time
from typing import Any, Callable

from conversations.keys import INDEX, UserKeys, is_conversation_id
from conversations.settings import ConversationSettings
from conversations.store import dynamodb_client, not_found

BATCH_ITEMS = 25  # BatchWriteItem's limit of requests per call
BATCH_ATTEMPTS = 6  # per batch; what is still unprocessed then waits for the next step


class Deleter:
    def __init__(self, settings: ConversationSettings, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.table = settings.table
        self.budget = settings.delete_budget_seconds
        self.clock = clock
        self.sleep = sleep

    def conversation(self, keys: UserKeys, conversation_id: Any) -> bool:
        """True when it is all gone, False when messages are left (202). 404 when nothing was there."""
        if not is_conversation_id(conversation_id):
            raise not_found()
        started = self.clock()
        old = dynamodb_client().delete_item(TableName=self.table, Key=keys.conversation(conversation_id),
                                            ReturnValues="ALL_OLD").get("Attributes")
        done, found = self._drain(keys, {
            "KeyConditionExpression": "user_id = :user AND begins_with(item_key, :prefix)",
            "ExpressionAttributeValues": {**keys.partition, ":prefix": {"S": keys.messages_prefix(conversation_id)}}},
            started, first_batch_done=False)
        if old is None and not found:
            raise not_found()
        return done

    def everything(self, keys: UserKeys) -> bool:
        """All of the caller's items: the conversations first (the index holds only them), then the rest."""
        started = self.clock()
        partition = {"KeyConditionExpression": "user_id = :user", "ExpressionAttributeValues": keys.partition}
        done, found = self._drain(keys, {**partition, "IndexName": INDEX}, started, first_batch_done=False)
        if not done:
            return False
        done, _ = self._drain(keys, partition, started, first_batch_done=found > 0)
        return done

    def _drain(self, keys: UserKeys, request: dict[str, Any], started: float,
               first_batch_done: bool) -> tuple[bool, int]:
        """Deletes what the Query finds, batch after batch: (nothing left, items found)."""
        client, found, batches = dynamodb_client(), 0, int(first_batch_done)
        while True:
            items = client.query(TableName=self.table, ConsistentRead=True, Limit=BATCH_ITEMS,
                                 ProjectionExpression="item_key", **request)["Items"]
            if not items:
                return True, found
            if batches and self.clock() - started >= self.budget:
                return False, found
            self._batch([keys.item(i["item_key"]["S"]) for i in items])
            found += len(items)
            batches += 1

    def _batch(self, item_keys: list[dict[str, Any]]) -> None:
        """One BatchWriteItem of deletes, with its UnprocessedItems sent again (jittered backoff)."""
        client = dynamodb_client()
        requests = [{"DeleteRequest": {"Key": key}} for key in item_keys]
        for attempt in range(BATCH_ATTEMPTS):
            left = client.batch_write_item(RequestItems={self.table: requests}).get("UnprocessedItems", {})
            requests = left.get(self.table, [])
            if not requests:
                return
            if attempt < BATCH_ATTEMPTS - 1:
                self.sleep(min(1.0, 0.05 * 2 ** attempt) * random.uniform(0.5, 1.0))
