"""Single-use WebSocket tickets: minted by `POST /chat/ticket`, consumed at `$connect`.

A WebSocket API has no Cognito authorizer, and a token in a `wss://` URL ends up in access
logs. So an authorized REST call mints a random ticket (256 bits) that the page sends as a
WebSocket subprotocol (`Sec-WebSocket-Protocol: falcon-chat, ticket.<ticket>`: a header, in
no URL and no access log). The table stores only its SHA-256, the caller and a TTL;
`$connect` deletes the item conditionally (exists and not expired) and gets the old item
back in the same call, so a ticket works once, even when two handshakes race.
"""

import hashlib
import re
import secrets
import time
from typing import Any, Callable

from core.aws_clients import aws_client

from identity.claims import Caller

SUBPROTOCOL = "falcon-chat"  # what $connect selects (the browser requires one of its offers back)
TICKET_PREFIX = "ticket."
_TICKET = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
# DynamoDB deletes expired items only eventually (within days), hence the check at consume.
EXPIRY_SLACK_SECONDS = 0


def dynamodb_client() -> Any:
    return aws_client("dynamodb", connect_timeout=2, read_timeout=5, max_attempts=2)


def ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def ticket_from_protocols(header: str | None) -> str | None:
    """The ticket offered in Sec-WebSocket-Protocol ("falcon-chat, ticket.<t>"), if well formed."""
    if not header:
        return None
    offered = [p.strip() for p in header.split(",")]
    for protocol in offered:
        if protocol.startswith(TICKET_PREFIX) and _TICKET.fullmatch(protocol[len(TICKET_PREFIX):]):
            return protocol[len(TICKET_PREFIX):]
    return None


class Tickets:
    def __init__(self, table: str, ttl_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self.table = table
        self.ttl = ttl_seconds
        self.clock = clock

    def mint(self, caller: Caller) -> dict[str, Any]:
        ticket = secrets.token_urlsafe(32)
        item = {"ticket_hash": {"S": ticket_hash(ticket)}, "user_id": {"S": caller.user_id},
                "admin": {"BOOL": caller.admin},
                "expires_at": {"N": str(int(self.clock()) + self.ttl)}}
        if caller.token_expires_at is not None:
            item["token_expires_at"] = {"N": str(caller.token_expires_at)}
        dynamodb_client().put_item(TableName=self.table, Item=item)
        return {"ticket": ticket, "expires_in": self.ttl}

    def consume(self, ticket: str | None) -> Caller | None:
        """The caller the ticket was minted for, once; None for a malformed, unknown, used or expired one."""
        if ticket is None or not _TICKET.fullmatch(ticket):
            return None  # forged or garbled: not worth a call
        client = dynamodb_client()
        try:
            old = client.delete_item(
                TableName=self.table, Key={"ticket_hash": {"S": ticket_hash(ticket)}},
                ConditionExpression="attribute_exists(ticket_hash) AND expires_at > :now",
                ExpressionAttributeValues={":now": {"N": str(int(self.clock()) - EXPIRY_SLACK_SECONDS)}},
                ReturnValues="ALL_OLD")
        except client.exceptions.ConditionalCheckFailedException:
            return None
        item = old.get("Attributes") or {}
        if "user_id" not in item:
            return None
        expires = item.get("token_expires_at", {}).get("N")
        return Caller(item["user_id"]["S"], bool(item.get("admin", {}).get("BOOL")),
                      int(expires) if expires else None)
