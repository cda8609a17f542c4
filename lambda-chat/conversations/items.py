"""The conversations table's items as the API shows them: summaries, messages, times.

DynamoDB's TTL deletes expired items only eventually (typically within days), so every
read treats an item whose `expires_at` has passed as gone (`expired`).
"""

import time
from typing import Any

from conversations.keys import conversation_id_of, turn_of


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(epoch_ms: int) -> str:
    """ISO 8601 UTC with milliseconds: "2026-12-02T00:41:07.123Z"."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms // 1000)) + f".{epoch_ms % 1000:03d}Z"


def number(item: dict[str, Any], name: str, default: int = 0) -> int:
    value = item.get(name)
    return int(value["N"]) if isinstance(value, dict) and "N" in value else default


def expired(item: dict[str, Any], now_s: float) -> bool:
    return "expires_at" in item and number(item, "expires_at") <= now_s


def summary(item: dict[str, Any]) -> dict[str, Any]:
    """`{"id", "title", "createdAt", "updatedAt", "messageCount"}` of a conversation item."""
    return {"id": conversation_id_of(item["item_key"]["S"]), "title": item["title"]["S"],
            "createdAt": iso(number(item, "created_at")), "updatedAt": iso(number(item, "updated_at")),
            "messageCount": number(item, "message_count")}


def message(item: dict[str, Any]) -> dict[str, Any]:
    """`{"role", "content", "at", "turn", "status"?, "error"?}`; a failed answer's content is ""."""
    shown: dict[str, Any] = {"role": item["role"]["S"], "content": item.get("content", {}).get("S", ""),
                             "at": iso(number(item, "at")), "turn": turn_of(item["item_key"]["S"])}
    if "status" in item:
        shown["status"] = item["status"]["S"]
    if "error" in item:
        error = item["error"]["M"]
        shown["error"] = {"status": number(error, "status"), "reason": error["reason"]["S"],
                          "message": error["message"]["S"]}
    return shown
