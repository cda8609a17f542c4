"""Sign-in in the chat functions: tickets, the caller from the authorizer, the daily allowance.

DynamoDB is dev/fake_dynamodb.py: moto served one request at a time, as DynamoDB applies
writes to one item, so the concurrency test exercises the real conditional expressions.
"""

import json
import threading
import time
from typing import Any

import pytest

from conftest import SITE_ORIGIN, WebSocketDriver
from fake_dynamodb import LocalDynamoDb

SUB = "0b6c2d3e-1f20-4a5b-9c8d-7e6f5a4b3c2d"
HOUR = 3600


# `dynamodb` (dev/fake_dynamodb.py) and `tables` (fresh tables per test): conftest.py.


def signed_in_env(dynamodb: LocalDynamoDb, tables: dict[str, str], **extra: str) -> dict[str, str]:
    return {"AUTH": "cognito", "TICKETS_TABLE": tables["tickets"], "USAGE_TABLE": tables["daily-usage"],
            "CONNECTIONS_TABLE": tables["connections"], "AWS_ENDPOINT_URL_DYNAMODB": dynamodb.url,
            "DAILY_ANSWERS_PER_USER": "3", **extra}


def rest_event(body: Any = None, sub: str = SUB, groups: str = "", exp: int | None = None,
               action: str | None = None) -> dict[str, Any]:
    """What the mapping template of stacks/rest-lambda-method.ts hands the function."""
    caller = {"sub": sub, "groups": groups, "exp": str(exp if exp is not None else int(time.time()) + HOUR)}
    return {"action": action, "caller": caller} if action else {"body": body, "caller": caller}


def usage(dynamodb: LocalDynamoDb, tables: dict[str, str], sub: str = SUB) -> int:
    day = time.strftime("%Y-%m-%d", time.gmtime())
    item = dynamodb.client().get_item(TableName=tables["daily-usage"],
                                      Key={"user_id": {"S": sub}, "day": {"S": day}}).get("Item")
    return int(item["answers"]["N"]) if item else 0


@pytest.fixture
def rest(load_handler, dynamodb, tables):
    return load_handler(**signed_in_env(dynamodb, tables))


def mint(rest, context, **caller: Any) -> str:
    reply = rest.lambda_handler(rest_event(action="ticket", **caller), context)
    assert reply["expires_in"] == 60
    return reply["ticket"]


def connect_with(driver: WebSocketDriver, protocols: str | None) -> Any:
    headers = {"Origin": SITE_ORIGIN}
    if protocols is not None:
        headers["Sec-WebSocket-Protocol"] = protocols
    return driver.connect(headers)


# ------------------------------------------------------------------ the caller


def test_the_caller_comes_only_from_the_authorizer_claims(rest, context, dynamodb, tables):
    body = {"text": "hi", "caller": {"sub": "someone-else"}, "sub": "someone-else"}
    assert rest.lambda_handler(rest_event(body), context)["msg"]
    assert usage(dynamodb, tables) == 1
    assert usage(dynamodb, tables, sub="someone-else") == 0


def test_an_event_without_the_authorizer_caller_is_a_500_not_an_open_door(rest, context):
    with pytest.raises(Exception) as raised:
        rest.lambda_handler({"text": "hi"}, context)
    assert str(raised.value) == "[500] the function is misconfigured: no caller from the authorizer"


def test_groups_claim_in_every_shape_api_gateway_renders():
    from identity.claims import groups_of
    assert groups_of("admin") == ["admin"]
    assert groups_of("[admin, staff]") == ["admin", "staff"]
    assert groups_of("admin,staff") == ["admin", "staff"]
    assert groups_of("") == [] and groups_of(None) == []


# ------------------------------------------------------------------ tickets


def test_ticket_is_minted_for_the_caller_and_only_its_hash_is_stored(rest, context, dynamodb, tables):
    ticket = mint(rest, context)
    [item] = dynamodb.client().scan(TableName=tables["tickets"])["Items"]
    assert ticket not in json.dumps(item)
    assert item["user_id"] == {"S": SUB}
    assert 55 <= int(item["expires_at"]["N"]) - time.time() <= 61


def test_ticket_is_consumed_once_at_connect(rest, context, ws_with, dynamodb, tables):
    ticket = mint(rest, context)
    ws = ws_with(**signed_in_env(dynamodb, tables))
    assert connect_with(ws, f"falcon-chat, ticket.{ticket}") == {
        "statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "falcon-chat"}}
    replayed = WebSocketDriver(ws.module, ws.connections, ws.invoke, connection_id="Replay0000000A=")
    assert connect_with(replayed, f"falcon-chat, ticket.{ticket}") == {"statusCode": 401}
    assert dynamodb.client().scan(TableName=tables["tickets"])["Items"] == []


def test_two_handshakes_racing_with_one_ticket_let_one_in(rest, context, ws_with, dynamodb, tables):
    ticket = mint(rest, context)
    ws = ws_with(**signed_in_env(dynamodb, tables))
    results: list[int] = []
    drivers = [WebSocketDriver(ws.module, ws.connections, ws.invoke, connection_id=f"Race{i:011d}=") for i in range(6)]
    threads = [threading.Thread(target=lambda d=d: results.append(connect_with(d, f"falcon-chat, ticket.{ticket}")["statusCode"]))
               for d in drivers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 401, 401, 401, 401, 401]


def test_expired_ticket_is_refused(dynamodb, tables, load_stream, connections, invoke, monkeypatch):
    from identity.claims import Caller
    from identity.tickets import Tickets
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url)
    minted_at = time.time() - 61
    ticket = Tickets(tables["tickets"], 60, clock=lambda: minted_at).mint(Caller(SUB, False, None))["ticket"]
    ws = WebSocketDriver(load_stream(**signed_in_env(dynamodb, tables)), connections, invoke)
    assert connect_with(ws, f"falcon-chat, ticket.{ticket}") == {"statusCode": 401}


@pytest.mark.parametrize("protocols", [
    None, "falcon-chat", f"falcon-chat, ticket.{'A' * 43}", "falcon-chat, ticket.short", "ticket.;drop"])
def test_forged_missing_or_malformed_ticket_is_refused_401(ws_with, dynamodb, tables, protocols):
    ws = ws_with(**signed_in_env(dynamodb, tables))
    assert connect_with(ws, protocols) == {"statusCode": 401}


def test_connect_from_another_origin_is_still_403_before_any_ticket_is_used(rest, context, ws_with, dynamodb, tables):
    ticket = mint(rest, context)
    ws = ws_with(**signed_in_env(dynamodb, tables))
    assert ws.connect({"Origin": "https://evil.example", "Sec-WebSocket-Protocol": f"falcon-chat, ticket.{ticket}"}) == {"statusCode": 403}
    assert len(dynamodb.client().scan(TableName=tables["tickets"])["Items"]) == 1


def test_an_expired_sign_in_gets_a_401_frame_and_the_connection_is_closed(rest, context, ws_with, dynamodb, tables, connections):
    ticket = mint(rest, context, exp=int(time.time()) + 1)
    ws = ws_with(**signed_in_env(dynamodb, tables))
    assert connect_with(ws, f"falcon-chat, ticket.{ticket}")["statusCode"] == 200
    time.sleep(1.1)
    ws.send({"action": "chat", "id": "q1", "text": "hi"})
    assert ws.frames() == [{"type": "error", "id": "q1", "status": 401, "message": "your sign-in has expired; sign in again",
                           "reason": "unauthorized"}]
    assert connections.closed == [ws.connection_id]
    assert ws.invoke.invocations == []


# ------------------------------------------------------------------ the allowance


def test_answers_count_and_the_allowance_answers_429_with_when_it_resets(rest, context, dynamodb, tables):
    for _ in range(3):
        assert rest.lambda_handler(rest_event({"text": "hi"}), context)["msg"]
    assert usage(dynamodb, tables) == 3
    with pytest.raises(Exception) as raised:
        rest.lambda_handler(rest_event({"text": "hi"}), context)
    message = str(raised.value)
    assert message.startswith("[429:daily_allowance] You have used all 3 answers of your daily allowance; it resets at 00:00 UTC (in ")
    assert usage(dynamodb, tables) == 3


def test_failed_and_refused_answers_do_not_count(rest, context, dynamodb, tables, model):
    from fake_sagemaker import Behaviour
    model.default = Behaviour(status=500)  # the model fails
    with pytest.raises(Exception):
        rest.lambda_handler(rest_event({"text": "hi"}), context)
    with pytest.raises(Exception) as raised:
        rest.lambda_handler(rest_event({"text": "   "}), context)  # 400
    assert str(raised.value).startswith("[400]")
    assert usage(dynamodb, tables) == 0


def test_admins_have_no_allowance_but_their_answers_are_counted(rest, context, dynamodb, tables):
    for _ in range(5):
        assert rest.lambda_handler(rest_event({"text": "hi"}, groups="[admin, staff]"), context)["msg"]
    assert usage(dynamodb, tables) == 5


def test_concurrent_requests_cannot_pass_the_allowance(dynamodb, tables, monkeypatch):
    from core.contract import ChatError
    from identity.allowance import DailyAllowance
    from identity.claims import Caller
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url)
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": "ap-northeast-2"}.items():
        monkeypatch.setenv(name, value)
    allowance = DailyAllowance(tables["daily-usage"], 5)
    outcomes: list[str] = []
    lock = threading.Lock()

    def ask() -> None:
        try:
            allowance.reserve(Caller(SUB, False, None))
            result = "ok"
        except ChatError as error:
            result = f"{error.status} {error.reason}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=ask) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["429 daily_allowance"] * 19 + ["ok"] * 5
    assert usage(dynamodb, tables) == 5


def test_allowance_over_the_websocket_counts_answers_and_refunds_failures(rest, context, ws_with, dynamodb, tables, model):
    from fake_sagemaker import Behaviour
    ws = ws_with(**signed_in_env(dynamodb, tables, DAILY_ANSWERS_PER_USER="2"))
    assert connect_with(ws, f"falcon-chat, ticket.{mint(rest, context)}")["statusCode"] == 200
    assert ws.ask({"action": "chat", "id": "q1", "text": "hi"})[-1]["type"] == "done"
    model.default = Behaviour(status=500)
    assert ws.ask({"action": "chat", "id": "q2", "text": "hi"})[-1]["type"] == "error"
    assert usage(dynamodb, tables) == 1  # the failed answer was refunded
    model.default = Behaviour()
    assert ws.ask({"action": "chat", "id": "q3", "text": "hi"})[-1]["type"] == "done"
    [frame] = ws.ask({"action": "chat", "id": "q4", "text": "hi"})
    assert frame["status"] == 429 and frame["reason"] == "daily_allowance"
    assert "resets at 00:00 UTC" in frame["message"]
    assert usage(dynamodb, tables) == 2


def test_a_streamed_answer_lambda_dropped_is_refunded_by_the_failure_notice(rest, context, ws_with, dynamodb, tables):
    import importlib
    from test_stream_failures import failure_record
    ws = ws_with(**signed_in_env(dynamodb, tables))
    assert connect_with(ws, f"falcon-chat, ticket.{mint(rest, context)}")["statusCode"] == 200
    ws.send({"action": "chat", "id": "q1", "text": "hi"})  # reserved, then queued: the job never runs
    assert usage(dynamodb, tables) == 1
    notice = importlib.import_module("stream_failures.notice")
    record = failure_record(ws.invoke.invocations[-1].payload, "EventAgeExceeded")
    assert notice.lambda_handler(record, context) == {"delivered": True}
    assert ws.frames()[-1]["reason"] == "busy"
    assert usage(dynamodb, tables) == 0  # no answer came, so it does not count


def test_resets_in_counts_to_the_next_utc_midnight():
    from identity.allowance import resets_in
    midnight = 1_700_000_000 - 1_700_000_000 % 86400
    assert resets_in(midnight + 86400 - 90) == "2 min"
    assert resets_in(midnight + 3600) == "23 h 0 min"


# ------------------------------------------------------------------ logs


def test_tickets_and_tokens_never_appear_in_a_log_line(rest, context, ws_with, dynamodb, tables, capsys):
    ticket = mint(rest, context)
    ws = ws_with(**signed_in_env(dynamodb, tables))
    connect_with(ws, f"falcon-chat, ticket.{ticket}")
    connect_with(ws, f"falcon-chat, ticket.{ticket}")  # the refused replay is logged too
    ws.ask({"action": "chat", "id": "q1", "text": "hi"})
    out = capsys.readouterr()
    logged = out.out + out.err
    assert "ticket minted" in logged and "stream connect refused: no valid ticket" in logged
    assert ticket not in logged
    assert "ticket." not in logged


# ------------------------------------------------------------------ pre-sign-up


def test_pre_sign_up_refuses_other_domains_on_self_sign_up_only(monkeypatch):
    import importlib
    import sys
    monkeypatch.setenv("ALLOWED_EMAIL_DOMAINS", '["example.com"]')
    sys.modules.pop("identity.pre_sign_up", None)
    trigger = importlib.import_module("identity.pre_sign_up")
    event = lambda source, email: {"triggerSource": source, "request": {"userAttributes": {"email": email}}, "response": {}}  # noqa: E731
    assert trigger.lambda_handler(event("PreSignUp_SignUp", "Ann@EXAMPLE.com"), None)["triggerSource"] == "PreSignUp_SignUp"
    with pytest.raises(trigger.SignUpRefused, match="Sign-up is open to addresses of example.com only."):
        trigger.lambda_handler(event("PreSignUp_SignUp", "bob@elsewhere.org"), None)
    with pytest.raises(trigger.SignUpRefused):
        trigger.lambda_handler(event("PreSignUp_SignUp", "bob@example.com.evil.org"), None)
    assert trigger.lambda_handler(event("PreSignUp_AdminCreateUser", "bob@elsewhere.org"), None)


# ------------------------------------------------------------------ the administrator's view


def test_daily_usage_script_lists_todays_answers_per_person(rest, context, dynamodb, tables, monkeypatch, capsys):
    import importlib.util
    from conftest import ROOT
    rest.lambda_handler(rest_event({"text": "hi"}), context)
    rest.lambda_handler(rest_event({"text": "hi"}), context)
    rest.lambda_handler(rest_event({"text": "hi"}, sub="second-person"), context)
    spec = importlib.util.spec_from_file_location("daily_usage", ROOT / "scripts" / "daily_usage.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    capsys.readouterr()
    assert script.main(["--table", tables["daily-usage"], "--endpoint-url", dynamodb.url, "--region", "ap-northeast-2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("(UTC): 3 by 2 people")
    assert lines[1:] == [f"     2  {SUB}", "     1  second-person"]
