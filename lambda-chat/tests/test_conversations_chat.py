"""Saved conversations on the chat paths: POST /chat and the stream job load and save turns.

Sign-in and conversations on, as the stack configures the functions: the REST events are
what the mapping template hands the function (`{"body", "caller"}`), the WebSocket runs
with a ticket minted by POST /chat/ticket, the store is dev/fake_dynamodb.py.
"""

import json
import time
from typing import Any

import pytest

from conftest import SITE_ORIGIN, WebSocketDriver
from conversation_support import OTHER_SUB, SUB, Seeder, saved_env
from fake_sagemaker import Behaviour

ASK = {"action": "chat", "id": "a1"}
DAY = 86400


def rest_event(body: Any, sub: str = SUB) -> dict[str, Any]:
    return {"body": body, "caller": {"sub": sub, "groups": "", "exp": str(int(time.time()) + 3600)}}


def items(dynamodb, tables, conversation_id: str | None = None) -> list[dict[str, Any]]:
    """The conversations table's items (of one conversation), in key order."""
    found = dynamodb.client().scan(TableName=tables["conversations"])["Items"]
    if conversation_id is not None:
        found = [i for i in found if i["item_key"]["S"].split("#")[1] == conversation_id]
    return sorted(found, key=lambda i: (i["user_id"]["S"], i["item_key"]["S"]))


def messages(dynamodb, tables, conversation_id: str) -> list[dict[str, Any]]:
    return [i for i in items(dynamodb, tables, conversation_id) if i["item_key"]["S"].startswith("m#")]


def conversation(dynamodb, tables, conversation_id: str) -> dict[str, Any]:
    [item] = [i for i in items(dynamodb, tables, conversation_id) if i["item_key"]["S"].startswith("c#")]
    return item


def last_prompt(model) -> str:
    return [r for r in model.requests if "/invocations" in r.path][-1].json()["inputs"]


@pytest.fixture
def rest(load_handler, dynamodb, tables):
    return load_handler(**saved_env(dynamodb, tables))


@pytest.fixture
def ask(rest, context):
    """POST /chat as the signed-in caller: the answer body, or the ChatError raised."""
    return lambda body, sub=SUB: rest.lambda_handler(rest_event(body, sub), context)


@pytest.fixture
def signed_ws(rest, context, ws_with, dynamodb, tables):
    """A WebSocket connection signed in as `sub`, conversations on."""
    connected: list[WebSocketDriver] = []

    def connect(sub: str = SUB, **env: str) -> WebSocketDriver:
        ticket = rest.lambda_handler({"action": "ticket", "caller": {"sub": sub, "groups": "", "exp": str(
            int(time.time()) + 3600)}}, context)["ticket"]
        ws = ws_with(**saved_env(dynamodb, tables, **env))
        connected.append(ws)
        ws.connection_id = f"Conn{len(connected):011d}="  # a connection of its own
        ws._jobs_run = len(ws.invoke.invocations)  # jobs of earlier connections are not its own
        answer = ws.connect({"Origin": SITE_ORIGIN, "Sec-WebSocket-Protocol": f"falcon-chat, ticket.{ticket}"})
        assert answer["statusCode"] == 200
        return ws
    return connect


# ------------------------------------------------------------------ POST /chat


def test_post_without_conversation_id_starts_a_conversation_titled_by_the_question(ask, dynamodb, tables):
    answer = ask({"text": "What is the capital of France? I would like to know it before my trip next week."})
    conversation_id = answer["conversationId"]
    assert "saved" not in answer
    item = conversation(dynamodb, tables, conversation_id)
    assert item["user_id"]["S"] == SUB
    assert item["title"]["S"] == "What is the capital of France? I would like to know it…"
    assert item["title_set"] == {"BOOL": False} and item["message_count"] == {"N": "2"}
    question, reply = messages(dynamodb, tables, conversation_id)
    assert question["role"]["S"] == "user" and question["content"]["S"].startswith("What is the capital")
    assert reply["role"]["S"] == "assistant" and reply["content"]["S"] == answer["msg"]
    assert reply["status"]["S"] == "ok"
    assert item["updated_key"]["S"] == f"{int(item['updated_at']['N']):013d}#{conversation_id}"


def test_post_with_conversation_id_loads_the_history_from_the_store(ask, model, dynamodb, tables):
    conversation_id = ask({"text": "What is the capital of France?"})["conversationId"]
    client_history = [{"role": "user", "content": "forged turn"}, {"role": "assistant", "content": "forged"}]
    answer = ask({"text": "And its population?", "conversationId": conversation_id, "history": client_history})
    assert answer["conversationId"] == conversation_id and answer["history_used"] == 2
    prompt = last_prompt(model)
    assert "User: What is the capital of France?" in prompt and "forged" not in prompt
    assert prompt.endswith("User: And its population?\nFalcon:")
    assert conversation(dynamodb, tables, conversation_id)["message_count"] == {"N": "4"}
    assert len(messages(dynamodb, tables, conversation_id)) == 4


def test_history_from_the_store_is_trimmed_to_the_models_token_budget(rest, ask, model, load_event):
    long_answer = load_event("long_conversation_en")["history"][1]["content"]
    conversation_id = Seeder(rest.STORE).conversation(turns=12, question="Tell me more", answer=long_answer)
    answer = ask({"text": "Summarise our conversation.", "conversationId": conversation_id})
    assert 2 <= answer["history_used"] < 24  # the newest turns that fit; the oldest did not
    prompt = last_prompt(model)
    assert "Tell me more (11)" in prompt and "Tell me more (0)" not in prompt
    assert prompt.count(long_answer) == answer["history_used"] // 2


def test_failed_answer_in_a_conversation_is_saved_with_its_error(ask, model, dynamodb, tables):
    conversation_id = ask({"text": "hi"})["conversationId"]
    model.queue(Behaviour.fail(503))
    with pytest.raises(Exception) as raised:
        ask({"text": "second question", "conversationId": conversation_id})
    assert str(raised.value) == "[502] the model service is unavailable"
    question, reply = messages(dynamodb, tables, conversation_id)[2:]
    assert question["content"]["S"] == "second question"
    assert reply["status"]["S"] == "failed" and "content" not in reply
    assert reply["error"]["M"] == {"status": {"N": "502"}, "reason": {"S": "model_error"},
                                   "message": {"S": "the model service is unavailable"}}


def test_retry_replaces_the_failed_newest_turn_instead_of_adding_one(ask, model, dynamodb, tables):
    conversation_id = ask({"text": "hi"})["conversationId"]
    model.queue(Behaviour.fail(503))
    with pytest.raises(Exception):
        ask({"text": "second question", "conversationId": conversation_id})
    failed_turn = messages(dynamodb, tables, conversation_id)[-1]["item_key"]["S"]
    answer = ask({"text": "second question", "conversationId": conversation_id, "retry": True})
    saved = messages(dynamodb, tables, conversation_id)
    assert len(saved) == 4 and saved[-1]["item_key"]["S"] == failed_turn
    assert saved[-1]["status"]["S"] == "ok" and saved[-1]["content"]["S"] == answer["msg"]
    assert conversation(dynamodb, tables, conversation_id)["message_count"] == {"N": "4"}


def test_retry_after_an_ok_turn_adds_a_turn(ask, dynamodb, tables):
    conversation_id = ask({"text": "hi"})["conversationId"]
    ask({"text": "again", "conversationId": conversation_id, "retry": True})
    assert len(messages(dynamodb, tables, conversation_id)) == 4


def test_failed_first_question_creates_no_conversation(ask, model, dynamodb, tables):
    model.queue(Behaviour.fail(503))
    with pytest.raises(Exception):
        ask({"text": "hi"})
    assert items(dynamodb, tables) == []


def test_another_persons_conversation_id_is_a_404_on_post_and_their_conversation_is_untouched(
        ask, model, dynamodb, tables):
    theirs = ask({"text": "my secret plan"}, sub=OTHER_SUB)["conversationId"]
    before, asked = items(dynamodb, tables), len(model.requests)
    with pytest.raises(Exception) as raised:
        ask({"text": "tell me", "conversationId": theirs})
    assert str(raised.value) == "[404] no such conversation"
    assert items(dynamodb, tables) == before
    assert len(model.requests) == asked  # nothing of theirs went into a prompt


@pytest.mark.parametrize("conversation_id", ["short", "A" * 23, "AAAAAAAAAAAAAAAAAAAA/.", ""])
def test_malformed_conversation_id_is_a_404_on_post(ask, conversation_id):
    with pytest.raises(Exception) as raised:
        ask({"text": "hi", "conversationId": conversation_id})
    assert str(raised.value) == "[404] no such conversation"


@pytest.mark.parametrize(("body", "message"), [
    ({"text": "hi", "conversationId": 5}, "[400] conversationId must be a string"),
    ({"text": "hi", "retry": "yes"}, "[400] retry must be true or false"),
])
def test_malformed_conversation_fields_are_a_400_naming_them(ask, body, message):
    with pytest.raises(Exception) as raised:
        ask(body)
    assert str(raised.value) == message


def test_a_save_that_fails_still_answers_with_saved_false(load_handler, context, dynamodb, tables, capsys):
    rest = load_handler(**saved_env(dynamodb, tables, CONVERSATIONS_TABLE="no-such-table"))
    answer = rest.lambda_handler(rest_event({"text": "hi"}), context)
    assert answer["msg"] and answer["saved"] is False and "conversationId" not in answer
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()
              if "conversation not saved" in x]
    assert line["cause"]["code"] == "ResourceNotFoundException"


def test_retention_sets_each_items_ttl_from_its_own_time(load_handler, context, dynamodb, tables):
    rest = load_handler(**saved_env(dynamodb, tables, CONVERSATION_RETENTION_DAYS="30"))
    conversation_id = rest.lambda_handler(rest_event({"text": "hi"}), context)["conversationId"]
    for item in messages(dynamodb, tables, conversation_id):
        assert int(item["expires_at"]["N"]) == int(item["at"]["N"]) // 1000 + 30 * DAY
    item = conversation(dynamodb, tables, conversation_id)
    assert int(item["expires_at"]["N"]) == int(item["updated_at"]["N"]) // 1000 + 30 * DAY


def test_without_retention_no_item_has_a_ttl(ask, dynamodb, tables):
    conversation_id = ask({"text": "hi"})["conversationId"]
    ask({"text": "again", "conversationId": conversation_id})
    assert all("expires_at" not in i for i in items(dynamodb, tables))


def test_conversations_off_ignores_conversation_fields_as_before(handler, context):
    answer = handler.lambda_handler({"text": "hi", "conversationId": 5, "retry": "x"}, context)
    assert "conversationId" not in answer and answer["msg"]


def test_expired_conversation_is_a_404_on_post(load_handler, context, dynamodb, tables):
    rest = load_handler(**saved_env(dynamodb, tables, CONVERSATION_RETENTION_DAYS="1"))
    old = Seeder(rest.STORE).conversation()  # written ten days ago
    with pytest.raises(Exception) as raised:
        rest.lambda_handler(rest_event({"text": "hi", "conversationId": old}), context)
    assert str(raised.value) == "[404] no such conversation"


# ------------------------------------------------------------------ the stream


def test_stream_starts_a_conversation_and_names_it_in_done(signed_ws, dynamodb, tables):
    ws = signed_ws()
    frames = ws.ask({**ASK, "text": "What is the capital of France?"})
    done = frames[-1]
    assert done["type"] == "done" and "saved" not in done
    question, reply = messages(dynamodb, tables, done["conversationId"])
    assert question["content"]["S"] == "What is the capital of France?"
    assert reply["content"]["S"] == done["msg"] and reply["status"]["S"] == "ok"


def test_stream_job_event_carries_the_caller_conversation_and_retry(signed_ws, invoke):
    ws = signed_ws()
    ws.send({**ASK, "text": "hi", "conversationId": "AAAAAAAAAAAAAAAAAAAAAA", "retry": True,
             "caller": {"user_id": OTHER_SUB}})
    job = invoke.invocations[-1].payload["streamJob"]
    assert job["caller"] == {"user_id": SUB}  # the connection's caller, never the frame's
    assert job["conversationId"] == "AAAAAAAAAAAAAAAAAAAAAA" and job["retry"] is True


def test_stream_with_conversation_id_loads_the_history_from_the_store(signed_ws, model, dynamodb, tables):
    ws = signed_ws()
    conversation_id = ws.ask({**ASK, "text": "What is the capital of France?"})[-1]["conversationId"]
    done = ws.ask({**ASK, "id": "a2", "text": "And its population?", "conversationId": conversation_id,
                   "history": [{"role": "user", "content": "forged"}]})[-1]
    assert done["conversationId"] == conversation_id and done["history_used"] == 2
    assert "User: What is the capital of France?" in last_prompt(model) and "forged" not in last_prompt(model)
    assert len(messages(dynamodb, tables, conversation_id)) == 4


def test_stopped_stream_saves_what_was_shown_marked_stopped(signed_ws, model, connections, dynamodb, tables):
    ws = signed_ws()
    conversation_id = ws.ask({**ASK, "text": "hi"})[-1]["conversationId"]
    connections.gone_after(ws.connection_id, 3)  # started, then two token frames
    shown = ws.ask({**ASK, "id": "a2", "text": "tell me more [[long:200]]", "conversationId": conversation_id})
    reply = messages(dynamodb, tables, conversation_id)[-1]
    assert reply["status"]["S"] == "stopped"
    assert reply["content"]["S"] == "".join(f["text"] for f in shown if f["type"] == "token") != ""
    assert conversation(dynamodb, tables, conversation_id)["message_count"] == {"N": "4"}


def test_stream_error_of_a_conversation_carries_its_id_and_is_saved(signed_ws, model, dynamodb, tables):
    ws = signed_ws()
    conversation_id = ws.ask({**ASK, "text": "hi"})[-1]["conversationId"]
    model.queue(Behaviour.fail(503))
    [error] = ws.ask({**ASK, "id": "a2", "text": "again", "conversationId": conversation_id})
    assert error["type"] == "error" and error["conversationId"] == conversation_id
    assert messages(dynamodb, tables, conversation_id)[-1]["status"]["S"] == "failed"


def test_stream_failed_first_question_creates_nothing_and_names_no_id(signed_ws, model, dynamodb, tables):
    ws = signed_ws()
    model.queue(Behaviour.fail(503))
    [error] = ws.ask({**ASK, "text": "hi"})
    assert error["type"] == "error" and "conversationId" not in error
    assert items(dynamodb, tables) == []


def test_stream_another_persons_conversation_id_is_a_404_frame(signed_ws, model, dynamodb, tables):
    theirs = signed_ws(sub=OTHER_SUB).ask({**ASK, "text": "my secret plan"})[-1]["conversationId"]
    before = items(dynamodb, tables)
    mine = signed_ws()
    asked = len(model.requests)
    [error] = mine.ask({**ASK, "text": "tell me", "conversationId": theirs})
    assert (error["status"], error["reason"], error["message"]) == (404, "not_found", "no such conversation")
    assert "conversationId" not in error and items(dynamodb, tables) == before
    assert len(model.requests) == asked  # nothing of theirs went into a prompt
