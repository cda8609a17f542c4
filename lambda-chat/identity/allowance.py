"""Each person's daily answer allowance (DAILY_ANSWERS_PER_USER; 0 = unlimited).

One item per person and UTC day, key (`user_id`, `day` = YYYY-MM-DD): DynamoDB's TTL deletes
lazily, so the day is in the key, and `expires_at` lets old days go. An answer is reserved
*before* the model is asked, with one conditional UpdateItem (`ADD answers :one` only while
`answers < :limit`), so concurrent requests cannot pass the limit (no read-then-write);
an answer that then fails (4xx, 5xx, 503 while the model starts) is refunded (`ADD -1`), so
only answers the model gave count. Members of the admin group are counted without a limit,
so an administrator still sees their usage.
"""

import time
from dataclasses import dataclass
from typing import Any, Callable

from core.aws_clients import aws_client
from core.contract import ChatError

from identity.claims import Caller

REASON = "daily_allowance"
KEEP_DAYS = 8  # usage items live a week past their day (DynamoDB deletes them within days after)


def dynamodb_client() -> Any:
    # Two attempts: a retried ADD after a lost reply could count one answer twice, which
    # errs against the person by one; a refused chat for a blip would be worse.
    return aws_client("dynamodb", connect_timeout=2, read_timeout=5, max_attempts=2)


def utc_day(now: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now))


def resets_in(now: float) -> str:
    """Time until the next 00:00 UTC, e.g. "5 h 3 min"."""
    left = 86400 - int(now) % 86400
    hours, minutes = left // 3600, (left % 3600 + 59) // 60
    if minutes == 60:
        hours, minutes = hours + 1, 0
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def allowance_error(limit: int, now: float) -> ChatError:
    return ChatError(429, f"You have used all {limit} answers of your daily allowance; "
                          f"it resets at 00:00 UTC (in {resets_in(now)}).", reason=REASON)


@dataclass(frozen=True)
class Reservation:
    user_id: str
    day: str  # the refund goes to the day that was counted, even after midnight

    def as_dict(self) -> dict[str, str]:
        return {"user_id": self.user_id, "day": self.day}

    @staticmethod
    def from_dict(value: Any) -> "Reservation | None":
        if isinstance(value, dict) and isinstance(value.get("user_id"), str) and isinstance(value.get("day"), str):
            return Reservation(value["user_id"], value["day"])
        return None


class DailyAllowance:
    def __init__(self, table: str, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.table = table
        self.limit = limit
        self.clock = clock

    def reserve(self, caller: Caller) -> Reservation:
        """Counts one answer for the caller today, or raises 429 (reason daily_allowance) at the limit."""
        now = self.clock()
        day = utc_day(now)
        values: dict[str, Any] = {":one": {"N": "1"}, ":expires": {"N": str(int(now) + KEEP_DAYS * 86400)}}
        condition = None
        if self.limit > 0 and not caller.admin:
            condition = "attribute_not_exists(answers) OR answers < :limit"
            values[":limit"] = {"N": str(self.limit)}
        client = dynamodb_client()
        request: dict[str, Any] = {
            "TableName": self.table, "Key": {"user_id": {"S": caller.user_id}, "day": {"S": day}},
            "UpdateExpression": "SET expires_at = :expires ADD answers :one",
            "ExpressionAttributeValues": values}
        if condition:
            request["ConditionExpression"] = condition
        try:
            client.update_item(**request)
        except client.exceptions.ConditionalCheckFailedException:
            raise allowance_error(self.limit, now) from None
        return Reservation(caller.user_id, day)

    def refund(self, reservation: Reservation | None) -> None:
        """Gives back an answer that the model did not give."""
        if reservation is None:
            return
        dynamodb_client().update_item(
            TableName=self.table, Key={"user_id": {"S": reservation.user_id}, "day": {"S": reservation.day}},
            UpdateExpression="ADD answers :minus_one", ConditionExpression="answers > :zero",
            ExpressionAttributeValues={":minus_one": {"N": "-1"}, ":zero": {"N": "0"}})


def usage_on(table: str, day: str, client: Any) -> list[tuple[str, int]]:
    """(user id, answers) of everyone who asked on `day`, most first (every Scan page)."""
    rows: list[tuple[str, int]] = []
    paginator = client.get_paginator("scan")
    for page in paginator.paginate(TableName=table, FilterExpression="#d = :day",
                                   ExpressionAttributeNames={"#d": "day"},
                                   ExpressionAttributeValues={":day": {"S": day}}):
        rows += [(i["user_id"]["S"], int(i.get("answers", {}).get("N", "0"))) for i in page["Items"]]
    return sorted(rows, key=lambda r: (-r[1], r[0]))
