"""The saved-conversation settings, read and checked at cold start like core/settings.py.

CONVERSATIONS_TABLE unset or empty: conversations are off and every path behaves as
without them. Set: the table's name, with CONVERSATION_RETENTION_DAYS (0 = keep) and
CONVERSATION_DELETE_BUDGET_SECONDS (how long one DELETE may work before answering 202).
Conversations need sign-in (AUTH=cognito): they are kept per signed-in person.
"""

import os
import re
from dataclasses import dataclass
from typing import Any, Mapping

from core.settings import ConfigError, EnvReader, load_at_cold_start

_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
# API Gateway's integration timeout is 29 s: a DELETE must answer well inside it.
MAX_DELETE_BUDGET_SECONDS = 25.0
DAY_SECONDS = 86400


@dataclass(frozen=True)
class ConversationSettings:
    table: str
    retention_days: int  # 0 = keep; else each message expires that many days after it was written
    delete_budget_seconds: float

    def expires_at(self, at_ms: int) -> int | None:
        """The TTL value (epoch seconds) of an item written at `at_ms`, or None when kept."""
        if not self.retention_days:
            return None
        return at_ms // 1000 + self.retention_days * DAY_SECONDS

    def summary(self) -> dict[str, Any]:
        return {"conversations_table": self.table, "conversation_retention_days": self.retention_days,
                "conversation_delete_budget_s": self.delete_budget_seconds}


def load_conversation_settings(env: Mapping[str, str]) -> ConversationSettings | None:
    """None when CONVERSATIONS_TABLE is unset; raises ConfigError naming every bad variable."""
    if not env.get("CONVERSATIONS_TABLE", "").strip():
        return None
    read = EnvReader(env)
    table = read.read("CONVERSATIONS_TABLE", "", str, lambda v: bool(_TABLE_NAME.fullmatch(v)),
                      "a DynamoDB table name (3-255 of A-Za-z0-9_.-)")
    settings = ConversationSettings(
        table=table,
        retention_days=read.integer("CONVERSATION_RETENTION_DAYS", 0, 0, 3650),
        delete_budget_seconds=read.number(
            "CONVERSATION_DELETE_BUDGET_SECONDS", 20.0, lambda v: 0 < v <= MAX_DELETE_BUDGET_SECONDS,
            f"a number of seconds > 0 and at most {MAX_DELETE_BUDGET_SECONDS:g}"))
    if env.get("AUTH", "none") != "cognito":
        read.problems.append(("AUTH", '"cognito" when CONVERSATIONS_TABLE is set (conversations are '
                                      "kept per signed-in person)", env.get("AUTH", "")))
    if read.problems:
        raise ConfigError(read.problems)
    return settings


def conversations_at_cold_start() -> tuple[ConversationSettings | None, str | None]:
    """(settings, None); (None, None) when off, silently; (None, problem) after logging it once."""
    if not os.environ.get("CONVERSATIONS_TABLE", "").strip():
        return None, None
    return load_at_cold_start(load_conversation_settings)  # type: ignore[type-var]
