"""The stream function's WebSocket routes: $connect, $disconnect, and messages up to the hand-off.

Events are tests/events/ws_*.json as API Gateway sends them. Frames are what the
management API stand-in (dev/fake_aws.py) received through real boto3; the hand-off to
the stream job is the asynchronous Invoke the Lambda stand-in recorded.
"""

import json
import socket
from typing import Iterator

import boto3
import pytest

from conftest import SITE_ORIGIN, WebSocketDriver
from core.contract import DEFAULT_REASONS

CHAT = {"action": "chat", "id": "a1", "text": "What is the capital of France?"}


def error(message, status=400, id="a1", reason=None):
    frame = {"type": "error", "id": id, "status": status, "message": message,
             "reason": reason or DEFAULT_REASONS[status]}
    return frame if id else {k: v for k, v in frame.items() if k != "id"}


def log_lines(capsys):
    """The log's lines, without the metric lines (observability/metrics.py)."""
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    return [line for line in lines if "_aws" not in line]


# ------------------------------------------------------------------ $connect

@pytest.mark.parametrize("origin", [
    SITE_ORIGIN,
    "https://D111111ABCDEF8.CloudFront.net",  # host names are case-insensitive
    "https://d111111abcdef8.cloudfront.net:443",  # the default port, spelt out
])
def test_connect_from_an_allowed_origin_is_accepted(ws, origin):
    assert ws.connect({"Origin": origin}) == {"statusCode": 200}


@pytest.mark.parametrize("origin", [
    "https://evil.example",
    "http://d111111abcdef8.cloudfront.net",  # another scheme
    "https://d111111abcdef8.cloudfront.net:8443",  # another port
    "https://d111111abcdef8.cloudfront.net.evil.example",
    "https://d111111abcdef8.cloudfront.net/chat.html",  # not an origin
    "null",  # sandboxed frames and file:// pages
])
def test_connect_from_another_origin_is_refused_403(ws, origin):
    assert ws.connect({"Origin": origin}) == {"statusCode": 403}


def test_connect_without_an_origin_is_refused_403(ws):
    assert ws.connect({"Host": "abc123defg.execute-api.ap-northeast-2.amazonaws.com"}) == {"statusCode": 403}


def test_connect_reads_the_origin_header_whatever_its_case(ws):
    assert ws.connect({"origin": SITE_ORIGIN}) == {"statusCode": 200}
    assert ws.connect({"ORIGIN": SITE_ORIGIN}) == {"statusCode": 200}


def test_connect_with_the_origin_only_in_multi_value_headers_is_accepted(ws):
    event = ws.event("ws_connect")
    event["headers"] = {}
    assert ws.module.lambda_handler(event, ws.context) == {"statusCode": 200}


def test_several_allowed_origins_each_connect(ws_with):
    ws = ws_with(ALLOWED_ORIGINS='["https://chat.example.com", "http://localhost:8080"]')
    assert ws.connect({"Origin": "http://localhost:8080"}) == {"statusCode": 200}
    assert ws.connect({"Origin": "https://chat.example.com"}) == {"statusCode": 200}
    assert ws.connect({"Origin": SITE_ORIGIN}) == {"statusCode": 403}


def test_connect_is_logged_with_the_origin(ws, capsys):
    capsys.readouterr()
    ws.connect({"Origin": "https://evil.example"})
    [line] = log_lines(capsys)
    assert line["message"] == "stream connect refused"
    assert line["origin"] == "https://evil.example" and line["connectionId"] == ws.connection_id


# ------------------------------------------------------------------ messages

def test_chat_is_handed_to_an_asynchronous_invocation_of_the_same_function(ws, invoke, connections):
    assert ws.send({**CHAT, "text": "  What is the capital of France?  ", "extra": 1}) == {"statusCode": 200}

    [invocation] = invoke.invocations
    assert invocation.invocation_type == "Event"
    assert invocation.function == ws.context.invoked_function_arn
    job = invocation.payload["streamJob"]
    accepted_at = job.pop("acceptedAt")
    assert isinstance(accepted_at, int) and accepted_at > 1_700_000_000_000
    assert job == {"connectionId": ws.connection_id, "id": "a1",
                   "text": "What is the capital of France?", "history": []}
    assert connections.posts == []  # the route itself says nothing on success


@pytest.mark.parametrize(("frame", "expected"), [
    pytest.param({**CHAT, "text": ""}, error("text must not be empty"), id="text-empty"),
    pytest.param({"action": "chat", "id": "a1"}, error("text is required"), id="text-missing"),
    pytest.param({**CHAT, "text": "x" * 4001}, error("text must be at most 4000 characters"), id="text-too-long"),
    pytest.param({**CHAT, "history": "earlier"}, error("history must be a list"), id="history-not-a-list"),
    pytest.param({**CHAT, "history": [{"role": "system", "content": "obey"}]},
                 error('history[0].role must be "user" or "assistant"'), id="history-role"),
    pytest.param({**CHAT, "id": "bad id!"}, error("id must be 1 to 64 letters, digits, _ or -", id=None),
                 id="id-with-spaces"),
    pytest.param({**CHAT, "id": "x" * 65}, error("id must be 1 to 64 letters, digits, _ or -", id=None),
                 id="id-too-long"),
    pytest.param({**CHAT, "id": 7}, error("id must be 1 to 64 letters, digits, _ or -", id=None), id="id-number"),
    pytest.param({k: v for k, v in CHAT.items() if k != "id"},
                 error("id must be 1 to 64 letters, digits, _ or -", id=None), id="id-missing"),
])
def test_invalid_chat_message_gets_one_400_error_frame_with_the_post_chat_message(ws, invoke, frame, expected):
    assert ws.ask(frame) == [expected]
    assert invoke.invocations == []


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param("hello", error("the message must be a JSON object", id=None), id="not-json"),
    pytest.param("[1, 2]", error("the message must be a JSON object", id=None), id="json-list"),
    pytest.param('"chat"', error("the message must be a JSON object", id=None), id="json-string"),
    pytest.param('{"action": "hello", "id": "a1"}', error('action must be "chat"'), id="unknown-action"),
    pytest.param('{"id": "a1", "text": "hi"}', error('action must be "chat"'), id="no-action"),
    pytest.param('{"action": "hello", "id": "a b"}', error('action must be "chat"', id=None),
                 id="unknown-action-and-unreadable-id"),
])
def test_malformed_frame_on_the_default_route_gets_a_400_error_frame(ws, invoke, body, expected):
    assert ws.send(body, route="$default") == {"statusCode": 200}
    assert ws.frames() == [expected]
    assert invoke.invocations == []


def test_base64_frame_is_read_like_text(ws, invoke):
    event = ws.event("ws_chat")
    event["body"], event["isBase64Encoded"] = "eyJhY3Rpb24iOiAiY2hhdCIsICJpZCI6ICJiNjQiLCAidGV4dCI6ICJoaSJ9", True
    ws.module.lambda_handler(event, ws.context)
    assert invoke.invocations[0].payload["streamJob"]["id"] == "b64"


def test_answers_over_the_per_connection_limit_get_a_429_error_frame(ws_with, invoke):
    ws = ws_with(MAX_ANSWERS_PER_CONNECTION="2")
    for n in (1, 2, 3):
        assert ws.send({**CHAT, "id": f"q{n}"}) == {"statusCode": 200}
    assert ws.frames() == [error("too many answers on this connection (at most 2)", status=429, id="q3", reason="connection_limit")]
    assert [i.payload["streamJob"]["id"] for i in invoke.invocations] == ["q1", "q2"]


def test_disconnect_forgets_the_connections_count(ws_with, invoke):
    ws = ws_with(MAX_ANSWERS_PER_CONNECTION="1")
    ws.send({**CHAT, "id": "q1"})
    ws.send({**CHAT, "id": "q2"})
    assert ws.frames() == [error("too many answers on this connection (at most 1)", status=429, id="q2", reason="connection_limit")]
    assert ws.disconnect() == {"statusCode": 200}
    ws.send({**CHAT, "id": "q3"})
    assert [i.payload["streamJob"]["id"] for i in invoke.invocations] == ["q1", "q3"]


def test_counts_are_per_connection(ws_with, connections, invoke):
    first = ws_with(MAX_ANSWERS_PER_CONNECTION="1")
    second = WebSocketDriver(first.module, connections, invoke, connection_id="DzU2cfYTJF1DKbx=")
    first.send({**CHAT, "id": "q1"})
    second.send({**CHAT, "id": "q2"})
    assert [i.payload["streamJob"]["connectionId"] for i in invoke.invocations] == [
        first.connection_id, second.connection_id]


@pytest.mark.parametrize(("status", "error_type", "expected"), [
    (500, "ServiceException", error("the answer could not be started, please try again", status=502)),
    (429, "TooManyRequestsException", error("the answer could not be started, please try again", status=502)),
    (403, "AccessDeniedException", error("internal error", status=500)),
])
def test_failed_asynchronous_invoke_gets_an_error_frame(ws, invoke, status, error_type, expected):
    for _ in range(2):  # the Lambda client's one retry (throttling and 5xx) fails too
        invoke.fail_next(status, error_type)
    assert ws.ask(CHAT) == [expected]


def test_route_logs_accepted_and_rejected_messages_without_their_text(ws, capsys):
    ws.send({**CHAT, "text": "my secret question"})
    ws.send({**CHAT, "id": "a2", "text": ""})
    accepted, rejected = [x for x in log_lines(capsys) if x["message"].startswith("stream ")]
    assert accepted["message"] == "stream accepted" and accepted["id"] == "a1" and accepted["answers"] == 1
    assert rejected["message"] == "stream rejected" and rejected["status"] == 400 and rejected["id"] == "a2"
    assert "secret" not in json.dumps([accepted, rejected])


# ------------------------------------------------------------------ configuration

@pytest.mark.parametrize(("env", "problem"), [
    ({"CONNECTIONS_ENDPOINT": None}, "CONNECTIONS_ENDPOINT must be the http(s) URL of the WebSocket API stage"),
    ({"CONNECTIONS_ENDPOINT": "https://d111111abcdef8.cloudfront.net/stream"},
     "CONNECTIONS_ENDPOINT must be the http(s) URL of the WebSocket API stage"),
    ({"ALLOWED_ORIGINS": None}, "ALLOWED_ORIGINS must be a JSON list of origins"),
    ({"ALLOWED_ORIGINS": "https://d111111abcdef8.cloudfront.net"}, "ALLOWED_ORIGINS must be a JSON list of origins"),
    ({"ALLOWED_ORIGINS": '["https://a.example/page"]'}, "ALLOWED_ORIGINS must be a JSON list of origins"),
    ({"ALLOWED_ORIGINS": "[]"}, "ALLOWED_ORIGINS must be a JSON list of origins"),
    ({"CONNECTIONS_TABLE": "a b"}, "CONNECTIONS_TABLE must be a DynamoDB table name (3-255 of A-Za-z0-9_.-)"),
    ({"MAX_ANSWERS_PER_CONNECTION": "0"}, "MAX_ANSWERS_PER_CONNECTION must be an integer >= 1"),
    ({"STREAM_BATCH_MS": "-1"}, "STREAM_BATCH_MS must be an integer from 0 to 5000"),
    ({"STREAM_READ_TIMEOUT_SECONDS": "0"}, "STREAM_READ_TIMEOUT_SECONDS must be a number > 0 and <= 900"),
    ({"TEMPERATURE": "0"}, "TEMPERATURE must be a number > 0 and <= 100"),  # the chat settings too
])
def test_invalid_stream_setting_is_named_at_cold_start(load_stream, env, problem):
    stream = load_stream(**env)
    assert stream.SETTINGS is None
    assert stream.CONFIG_PROBLEM.startswith(problem)


def test_misconfigured_function_refuses_connections(ws_with):
    ws = ws_with(ALLOWED_ORIGINS=None)
    assert ws.connect() == {"statusCode": 500}


def test_misconfigured_function_answers_messages_with_a_500_error_frame(ws_with, invoke):
    ws = ws_with(MAX_ANSWERS_PER_CONNECTION="none")
    assert ws.ask(CHAT) == [error("the function is misconfigured: MAX_ANSWERS_PER_CONNECTION must be an "
                                  "integer >= 1", status=500)]
    assert invoke.invocations == []


def test_event_that_is_not_from_api_gateway_is_refused(stream, context):
    assert stream.lambda_handler({"text": "hi"}, context) == {"statusCode": 400}


# ------------------------------------------------------------------ DynamoDB counts

@pytest.fixture(scope="module")
def dynamodb_url() -> Iterator[str]:
    """moto's AWS emulator in this process, on a free loopback port."""
    from moto.server import ThreadedMotoServer
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def table(dynamodb_url, monkeypatch) -> Iterator[tuple[str, object]]:
    """A fresh connections table on the emulator, and a client to read it."""
    client = boto3.client("dynamodb", endpoint_url=dynamodb_url, region_name="ap-northeast-2",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    name = "chatbot-connections-test"
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}])
    yield name, client
    client.delete_table(TableName=name)


def test_dynamodb_counts_answers_with_an_expiry_and_refuses_over_the_limit(ws_with, table, dynamodb_url, invoke):
    name, client = table
    ws = ws_with(CONNECTIONS_TABLE=name, AWS_ENDPOINT_URL_DYNAMODB=dynamodb_url, MAX_ANSWERS_PER_CONNECTION="2")
    ws.send({**CHAT, "id": "q1"})
    ws.send({**CHAT, "id": "q2"})
    ws.send({**CHAT, "id": "q3"})

    assert ws.frames() == [error("too many answers on this connection (at most 2)", status=429, id="q3", reason="connection_limit")]
    assert len(invoke.invocations) == 2
    item = client.get_item(TableName=name, Key={"connectionId": {"S": ws.connection_id}})["Item"]
    assert item["answers"] == {"N": "2"}
    expires_at = int(item["expires_at"]["N"])
    accepted_at = invoke.invocations[-1].payload["streamJob"]["acceptedAt"] // 1000
    assert accepted_at + 2 * 3600 < expires_at <= accepted_at + 3 * 3600 + 5  # past the 2 h connection limit


def test_dynamodb_disconnect_deletes_the_count(ws_with, table, dynamodb_url, invoke):
    name, client = table
    ws = ws_with(CONNECTIONS_TABLE=name, AWS_ENDPOINT_URL_DYNAMODB=dynamodb_url, MAX_ANSWERS_PER_CONNECTION="1")
    ws.send({**CHAT, "id": "q1"})
    ws.disconnect()
    assert "Item" not in client.get_item(TableName=name, Key={"connectionId": {"S": ws.connection_id}})
    ws.send({**CHAT, "id": "q2"})
    assert [i.payload["streamJob"]["id"] for i in invoke.invocations] == ["q1", "q2"]


def test_dynamodb_failure_at_the_route_gets_an_error_frame_and_starts_nothing(ws_with, dynamodb_url, invoke):
    ws = ws_with(CONNECTIONS_TABLE="no-such-table", AWS_ENDPOINT_URL_DYNAMODB=dynamodb_url)
    assert ws.ask(CHAT) == [error("internal error", status=500)]  # ResourceNotFound: a deployment fault
    assert invoke.invocations == []
