"""Sign-in settings from environment variables (set by stacks/signin/sign-in.ts)."""

from dataclasses import dataclass
from typing import Any, Mapping

from core.settings import ConfigError


@dataclass(frozen=True)
class IdentitySettings:
    signed_in: bool  # AUTH=cognito: every request carries a verified caller
    tickets_table: str | None  # WebSocket tickets (streaming only)
    usage_table: str | None  # answers per person per UTC day
    daily_answers: int  # 0 = unlimited
    ticket_ttl: int  # seconds a ticket waits for its $connect
    admin_group: str  # members have no allowance

    def summary(self) -> dict[str, Any]:
        return {"auth": "cognito" if self.signed_in else "none", "tickets_table": self.tickets_table,
                "usage_table": self.usage_table, "daily_answers_per_user": self.daily_answers,
                "ticket_ttl_s": self.ticket_ttl, "admin_group": self.admin_group}


OPEN = IdentitySettings(False, None, None, 0, 60, "admin")


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int,
         problems: list[tuple[str, str, str]]) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        problems.append((name, f"a whole number from {low} to {high}", raw))
        return default
    return value


def load_identity_settings(env: Mapping[str, str]) -> IdentitySettings:
    auth = env.get("AUTH", "none")
    problems: list[tuple[str, str, str]] = []
    if auth not in ("cognito", "none"):
        problems.append(("AUTH", '"cognito" or "none"', auth))
    if auth != "cognito":
        if problems:
            raise ConfigError(problems)
        return OPEN
    usage_table = env.get("USAGE_TABLE") or None
    if usage_table is None:
        problems.append(("USAGE_TABLE", "the daily-usage table's name (AUTH=cognito)", ""))
    settings = IdentitySettings(
        signed_in=True,
        tickets_table=env.get("TICKETS_TABLE") or None,
        usage_table=usage_table,
        daily_answers=_int(env, "DAILY_ANSWERS_PER_USER", 200, 0, 1_000_000, problems),
        ticket_ttl=_int(env, "TICKET_TTL_SECONDS", 60, 5, 600, problems),
        admin_group=env.get("ADMIN_GROUP") or "admin")
    if problems:
        raise ConfigError(problems)
    return settings


def identity_at_cold_start() -> tuple[IdentitySettings | None, str | None]:
    """(settings, None) or (None, problem), logged once like the chat settings; silent when sign-in is off."""
    import os

    from core.settings import load_at_cold_start
    if os.environ.get("AUTH", "none") == "none":
        return OPEN, None
    return load_at_cold_start(load_identity_settings)
