"""The conversations API's routes, from a parsed request to a Lambda proxy answer.

Every route gets the caller's `UserKeys` (keys.py) and nothing else naming a person; the
conversation id of the path is only ever looked up inside that partition.
"""

import json
from typing import Any
from urllib.parse import quote

from core.contract import ChatError
from conversations.deletion import Deleter
from conversations.export import markdown
from conversations.items import message, summary
from conversations.keys import BadCursor, UserKeys
from conversations.store import ConversationStore
from conversations.titles import filename, parse_title

LIST_LIMIT = (1, 100, 50)  # GET /conversations: low, high, default
MESSAGE_LIMIT = (1, 200, 100)  # GET /conversations/{id}
PARTLY_DELETED = "deleting takes longer than one request allows: the rest is still there; send DELETE again to finish"
# Every answer: never cached (the same URL answers each person differently), never sniffed.
BASE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def json_answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {**BASE_HEADERS, "Content-Type": "application/json"},
            "body": json.dumps(body, ensure_ascii=False)}


def parse_limit(query: dict[str, str], bounds: tuple[int, int, int]) -> int:
    low, high, default = bounds
    raw = query.get("limit")
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise ChatError(400, f"limit must be a whole number from {low} to {high}")
    return int(raw)


def _cursor(query: dict[str, str]) -> str | None:
    return query.get("cursor") or None


def bad_cursor() -> ChatError:
    return ChatError(400, "cursor is not valid here (pass the `next` of the previous answer as it was)")


class Routes:
    def __init__(self, store: ConversationStore, deleter: Deleter) -> None:
        self.store = store
        self.deleter = deleter

    def list(self, keys: UserKeys, query: dict[str, str]) -> dict[str, Any]:
        limit, cursor = parse_limit(query, LIST_LIMIT), _cursor(query)
        try:
            start = keys.list_start(cursor) if cursor else None
        except BadCursor:
            raise bad_cursor() from None
        page = self.store.conversations(keys, limit, start)
        return json_answer(200, {"conversations": [summary(i) for i in page.items],
                                 "next": keys.list_cursor(page.items[-1]) if page.more else None})

    def get(self, keys: UserKeys, conversation_id: str, query: dict[str, str]) -> dict[str, Any]:
        limit, cursor = parse_limit(query, MESSAGE_LIMIT), _cursor(query)
        conversation = self.store.conversation(keys, conversation_id)  # 404 before the cursor's 400
        try:
            start = keys.message_start(conversation_id, cursor) if cursor else None
        except BadCursor:
            raise bad_cursor() from None
        page = self.store.messages(keys, conversation_id, limit, start)
        return json_answer(200, {**summary(conversation), "messages": [message(i) for i in page.items],
                                 "next": keys.message_cursor(page.items[-1]) if page.more else None})

    def rename(self, keys: UserKeys, conversation_id: str, body: Any) -> dict[str, Any]:
        self.store.conversation(keys, conversation_id)  # another person's id: 404 whatever the body
        title = parse_title(body)
        return json_answer(200, summary(self.store.rename(keys, conversation_id, title)))

    def delete(self, keys: UserKeys, conversation_id: str) -> dict[str, Any]:
        return self._deleted(self.deleter.conversation(keys, conversation_id))

    def delete_all(self, keys: UserKeys) -> dict[str, Any]:
        return self._deleted(self.deleter.everything(keys))

    @staticmethod
    def _deleted(done: bool) -> dict[str, Any]:
        return json_answer(200, {"deleted": True}) if done else \
            json_answer(202, {"deleted": False, "message": PARTLY_DELETED})

    def export(self, keys: UserKeys, conversation_id: str) -> dict[str, Any]:
        conversation = self.store.conversation(keys, conversation_id)
        text = markdown(conversation, self.store.all_messages(keys, conversation_id))
        name = filename(conversation["title"]["S"])
        # RFC 6266: the ASCII name for every client, the title's own characters in filename*.
        full = quote(f"{' '.join(conversation['title']['S'].split())[:60]}.md", safe="")
        return {"statusCode": 200, "body": text, "headers": {
            **BASE_HEADERS, "Content-Type": "text/markdown; charset=utf-8",
            "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{full}"}}
