"""The caller, built in one place from what API Gateway's Cognito authorizer verified.

With sign-in the REST integrations' mapping templates (stacks/rest-lambda-method.ts) send
`{"body": <request body>, "caller": {"sub", "groups", "exp"}}` or `{"action": "ticket",
"caller": {...}}`; the values come from `$context.authorizer.claims`, never from the body.
The user id is the token's `sub`: stable, unique in the pool, and unlike the e-mail or
`cognito:username` the same for federated users (DESIGN.md "Sign-in").
"""

import re
from dataclasses import dataclass
from typing import Any

from core.contract import ChatError

from identity.settings import IdentitySettings

_SUB = re.compile(r"[A-Za-z0-9_.:@-]{1,128}")


@dataclass(frozen=True)
class Caller:
    user_id: str  # the ID token's sub
    admin: bool  # member of the admin group: no daily allowance
    token_expires_at: int | None  # the ID token's exp (epoch seconds), when known


def groups_of(raw: Any) -> list[str]:
    """`cognito:groups` as API Gateway renders a list claim: "admin", "[admin, staff]" or "admin,staff"."""
    if isinstance(raw, list):
        return [str(g) for g in raw]
    if not isinstance(raw, str):
        return []
    return [g for g in re.split(r"[\s,\[\]]+", raw) if g]


def caller_from_claims(claims: Any, admin_group: str) -> Caller:
    """The one constructor of a Caller. A claim set without a usable `sub` is a deployment fault."""
    sub = claims.get("sub") if isinstance(claims, dict) else None
    if not isinstance(sub, str) or not _SUB.fullmatch(sub):
        raise ChatError(500, "the function is misconfigured: no caller from the authorizer")
    exp = claims.get("exp")
    try:
        expires = int(exp) if exp not in (None, "") else None
    except (TypeError, ValueError):
        expires = None
    return Caller(sub, admin_group in groups_of(claims.get("groups")), expires)


def caller_of_job(value: Any) -> Caller | None:
    """The caller a stream job carries: `{"user_id"}`, which the chat route copied from the
    connection's verified ticket (the job is this function's own asynchronous invocation)."""
    user_id = value.get("user_id") if isinstance(value, dict) else None
    if not isinstance(user_id, str) or not _SUB.fullmatch(user_id):
        return None
    return Caller(user_id, False, None)


def split_event(event: Any, settings: IdentitySettings) -> tuple[Any, Caller | None, str | None]:
    """(request body, caller, action) of a REST event: the event itself when sign-in is off."""
    if not settings.signed_in:
        return event, None, None
    if not isinstance(event, dict) or "caller" not in event:
        raise ChatError(500, "the function is misconfigured: no caller from the authorizer")
    caller = caller_from_claims(event["caller"], settings.admin_group)
    action = event.get("action") if isinstance(event.get("action"), str) else None
    return event.get("body"), caller, action
