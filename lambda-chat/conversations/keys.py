"""Every DynamoDB key of the conversations table, built here and only here.

The partition key is the caller's `sub` as API Gateway's Cognito authorizer verified it
(`identity.claims.Caller.user_id`): `keys_for(caller)` is the one way to get a `UserKeys`,
and every key it builds carries that `user_id`. Nothing in a path, query string, body or
cursor can name a user: a cursor holds only sort keys, and a conversation id only its 22
characters. So a request can reach nothing outside its caller's partition, and an id of
another person's conversation is simply not found there (404, never their data).

    conversation  item_key = "c#<conversationId>"            updated_key = "<13-digit ms>#<id>"
    message       item_key = "m#<conversationId>#<turn>#<0|1>"  turn = the question's epoch ms, 13 digits
"""

import base64
import binascii
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from identity.claims import Caller

INDEX = "by-updated"  # the local secondary index: the caller's conversations by updated_key
_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16)
_TURN = re.compile(r"\d{13}")
_CONVERSATION_KEY = re.compile(r"c#([A-Za-z0-9_-]{22})")
_UPDATED_KEY = re.compile(r"\d{13}#([A-Za-z0-9_-]{22})")
QUESTION, ANSWER = "0", "1"


class BadCursor(ValueError):
    """A cursor this function did not write (or one of another listing)."""


def new_conversation_id() -> str:
    return secrets.token_urlsafe(16)


def is_conversation_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_ID.fullmatch(value))


def turn_key(epoch_ms: int) -> str:
    """A turn's key: the question's time in ms, zero-padded so keys sort by time."""
    return f"{epoch_ms:013d}"


def turn_of(item_key: str) -> str:
    """The turn key of a message's item_key ("m#<id>#<turn>#<0|1>")."""
    return item_key.split("#")[2]


def updated_key(updated_at_ms: int, conversation_id: str) -> str:
    return f"{turn_key(updated_at_ms)}#{conversation_id}"


def conversation_id_of(item_key: str) -> str:
    return item_key.split("#")[1]


def _encode(payload: dict[str, str]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError):
        raise BadCursor() from None
    if not isinstance(payload, dict):
        raise BadCursor()
    return payload


@dataclass(frozen=True)
class UserKeys:
    """The keys of one person's partition. Build it with `keys_for(caller)` only."""

    user_id: str

    def _key(self, item_key: str) -> dict[str, Any]:
        return {"user_id": {"S": self.user_id}, "item_key": {"S": item_key}}

    @property
    def partition(self) -> dict[str, Any]:
        """`ExpressionAttributeValues` entry for `user_id = :user`."""
        return {":user": {"S": self.user_id}}

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        return self._key(f"c#{conversation_id}")

    def message(self, conversation_id: str, turn: str, index: str) -> dict[str, Any]:
        return self._key(f"m#{conversation_id}#{turn}#{index}")

    @staticmethod
    def messages_prefix(conversation_id: str) -> str:
        """For `begins_with(item_key, :prefix)`: the messages of one conversation."""
        return f"m#{conversation_id}#"

    def item(self, item_key: str) -> dict[str, Any]:
        """The key of an item this partition's query returned (for deletes)."""
        return self._key(item_key)

    # Cursors: opaque base64url JSON of the last item's sort keys, never the user id.

    @staticmethod
    def list_cursor(item: dict[str, Any]) -> str:
        return _encode({"k": item["item_key"]["S"], "u": item["updated_key"]["S"]})

    def list_start(self, cursor: str) -> dict[str, Any]:
        """ExclusiveStartKey of the listing (index by-updated) after `cursor`."""
        payload = _decode(cursor)
        item_key, updated = payload.get("k"), payload.get("u")
        if not isinstance(item_key, str) or not isinstance(updated, str):
            raise BadCursor()
        found, at = _CONVERSATION_KEY.fullmatch(item_key), _UPDATED_KEY.fullmatch(updated)
        if not found or not at or found.group(1) != at.group(1):
            raise BadCursor()
        return {**self._key(item_key), "updated_key": {"S": updated}}

    @staticmethod
    def message_cursor(item: dict[str, Any]) -> str:
        return _encode({"k": item["item_key"]["S"]})

    def message_start(self, conversation_id: str, cursor: str) -> dict[str, Any]:
        """ExclusiveStartKey of a conversation's messages after `cursor` (only that conversation's)."""
        item_key = _decode(cursor).get("k")
        prefix = self.messages_prefix(conversation_id)
        if not isinstance(item_key, str) or not item_key.startswith(prefix):
            raise BadCursor()
        rest = item_key[len(prefix):].split("#")
        if len(rest) != 2 or not _TURN.fullmatch(rest[0]) or rest[1] not in (QUESTION, ANSWER):
            raise BadCursor()
        return self._key(item_key)


def keys_for(caller: Caller) -> UserKeys:
    """The one constructor: the partition of the caller the authorizer verified."""
    return UserKeys(caller.user_id)
