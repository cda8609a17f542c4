"""The saved-conversations API (conversations_function): each route, its errors, isolation.

Events are tests/events/conv_*.json, API Gateway REST proxy events with the claims a
Cognito authorizer puts in requestContext.authorizer.claims; the store is
dev/fake_dynamodb.py with the stack's table and index.
"""

import json
import re

import pytest

from conversation_support import OTHER_SUB, SUB

ID = re.compile(r"[A-Za-z0-9_-]{22}")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_list_answers_the_callers_conversations_newest_first(api, seed):
    first, second = seed.conversation(title="first"), seed.conversation(title="second")
    answer = api.listing()
    assert answer.status == 200
    listed = answer.json["conversations"]
    assert [c["id"] for c in listed] == [second, first]
    assert listed[0]["title"] == "second" and listed[0]["messageCount"] == 2
    assert ISO.fullmatch(listed[0]["createdAt"]) and ISO.fullmatch(listed[0]["updatedAt"])
    assert answer.json["next"] is None
    assert answer.headers["Cache-Control"] == "no-store"


def test_list_follows_dynamodb_pages_past_the_1_mb_page_limit(api, seed, dynamodb, tables):
    ids = [seed.conversation(title=f"conversation {i}") for i in range(8)]
    client = dynamodb.client()
    for conversation_id in ids:  # 300 KB items: a Query page (1 MB) holds three of them
        client.update_item(TableName=tables["conversations"],
                           Key={"user_id": {"S": SUB}, "item_key": {"S": f"c#{conversation_id}"}},
                           UpdateExpression="SET padding = :p", ExpressionAttributeValues={":p": {"S": "x" * 300_000}})
    first_page = client.query(TableName=tables["conversations"], IndexName="by-updated",
                              KeyConditionExpression="user_id = :u", ExpressionAttributeValues={":u": {"S": SUB}})
    assert len(first_page["Items"]) < 8 and "LastEvaluatedKey" in first_page  # the store did page
    answer = api.listing(query={"limit": "100"})
    assert [c["id"] for c in answer.json["conversations"]] == ids[::-1]
    assert answer.json["next"] is None


def test_list_cursor_goes_on_where_the_previous_answer_stopped(api, seed):
    ids = [seed.conversation() for _ in range(5)]
    first = api.listing(query={"limit": "2"}).json
    assert [c["id"] for c in first["conversations"]] == ids[:2:-1][:2] == [ids[4], ids[3]]
    assert [c["id"] for c in api.every_conversation(limit=2)] == ids[::-1]


def test_list_limit_exactly_the_number_of_conversations_has_no_next(api, seed):
    for _ in range(3):
        seed.conversation()
    assert api.listing(query={"limit": "3"}).json["next"] is None


@pytest.mark.parametrize("limit", ["0", "101", "ten", "-1", "1.5", "٣"])
def test_list_malformed_limit_is_a_400_naming_it(api, limit):
    answer = api.listing(query={"limit": limit})
    assert answer.status == 400
    assert answer.json == {"message": "limit must be a whole number from 1 to 100", "reason": "invalid_request"}


@pytest.mark.parametrize("cursor", ["not-base64!", "eyJrIjoxfQ", "W10", "eyJrIjoiYyNBQUFBQUFBQUFBQUFBQUFBQUFBQUFBIiwidSI6IjEyMyJ9"])
def test_list_malformed_cursor_is_a_400_naming_it(api, cursor):
    answer = api.listing(query={"cursor": cursor})
    assert answer.status == 400
    assert answer.json["reason"] == "invalid_request" and answer.json["message"].startswith("cursor is not valid")


def test_get_answers_the_conversation_with_its_messages_oldest_first(api, seed):
    conversation_id = seed.conversation(turns=2, question="Where is Busan?", answer="In the south-east.")
    answer = api.get(conversation_id)
    assert answer.status == 200
    body = answer.json
    assert body["id"] == conversation_id and body["messageCount"] == 4 and body["next"] is None
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("user", "Where is Busan? (0)"), ("assistant", "In the south-east."),
        ("user", "Where is Busan? (1)"), ("assistant", "In the south-east.")]
    assert body["messages"][1]["status"] == "ok" and "status" not in body["messages"][0]
    assert body["messages"][0]["turn"] == body["messages"][1]["turn"] != body["messages"][2]["turn"]
    assert ISO.fullmatch(body["messages"][0]["at"])


def test_get_pages_long_conversations_with_a_cursor(api, seed):
    conversation_id = seed.conversation(turns=4)
    first = api.get(conversation_id, query={"limit": "3"}).json
    second = api.get(conversation_id, query={"limit": "3", "cursor": first["next"]}).json
    third = api.get(conversation_id, query={"limit": "3", "cursor": second["next"]}).json
    assert [len(p["messages"]) for p in (first, second, third)] == [3, 3, 2] and third["next"] is None
    assert [m["role"] for m in first["messages"] + second["messages"] + third["messages"]] == ["user", "assistant"] * 4


def test_get_cursor_of_another_conversation_is_a_400(api, seed):
    one, other = seed.conversation(turns=2), seed.conversation(turns=2)
    cursor = api.get(one, query={"limit": "1"}).json["next"]
    answer = api.get(other, query={"cursor": cursor})
    assert answer.status == 400 and answer.json["message"].startswith("cursor is not valid")


def test_get_shows_a_failed_answer_with_its_error(api, seed):
    conversation_id = seed.conversation(turns=2, status="failed")
    failed = api.get(conversation_id).json["messages"][-1]
    assert failed["status"] == "failed" and failed["content"] == ""
    assert failed["error"] == {"status": 503, "reason": "model_not_running", "message": (
        "the model is not running (it may be starting up or switched off); try again later")}


def test_rename_sets_the_title_and_answers_the_summary(api, seed):
    conversation_id = seed.conversation(title="old")
    answer = api.call("conv_rename", conversation_id=conversation_id, body={"title": "  Trip to Busan  "})
    assert answer.status == 200
    assert answer.json["title"] == "Trip to Busan" and answer.json["id"] == conversation_id
    assert api.listing().json["conversations"][0]["title"] == "Trip to Busan"


@pytest.mark.parametrize(("body", "message"), [
    ('{"title": 5}', "title must be a string"),
    ('{}', "title must be a string"),
    ('["title"]', "the request body must be a JSON object"),
    ("not json", "the request body must be a JSON object"),
    ('{"title": "   "}', "title must not be empty"),
    (json.dumps({"title": "x" * 101}), "title must be at most 100 characters"),
    (json.dumps({"title": "two\nlines"}), "title must not contain control characters"),
])
def test_rename_malformed_title_is_a_400_naming_it(api, seed, body, message):
    conversation_id = seed.conversation()
    answer = api.call("conv_rename", conversation_id=conversation_id, raw_body=body)
    assert answer.status == 400
    assert answer.json == {"message": message, "reason": "invalid_request"}


def test_title_with_markup_stays_text_in_the_api_and_the_export(api, seed):
    title = '<img src=x onerror="alert(1)"> **bold** [link](javascript:alert(1))'
    conversation_id = seed.conversation()
    assert api.call("conv_rename", conversation_id=conversation_id, body={"title": title}).json["title"] == title
    assert api.get(conversation_id).json["title"] == title
    heading = api.call("conv_export", conversation_id=conversation_id).text.splitlines()[0]
    assert not re.search(r"(?<!\\)[<>*\[\]()]", heading[2:])  # every markup character escaped
    assert heading == ("# \\<img src\\=x onerror\\=\\\"alert\\(1\\)\\\"\\> \\*\\*bold\\*\\* "
                       "\\[link\\]\\(javascript\\:alert\\(1\\)\\)")


def test_export_is_markdown_with_a_safe_file_name(api, seed):
    conversation_id = seed.conversation(turns=1, question="What is <b>HTML</b>?", answer="A markup language.")
    api.call("conv_rename", conversation_id=conversation_id, body={"title": 'Notes: "HTML" / 서울 *2026*'})
    answer = api.call("conv_export", conversation_id=conversation_id)
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Disposition"] == (
        "attachment; filename=\"Notes HTML 2026.md\"; "
        "filename*=UTF-8''Notes%3A%20%22HTML%22%20%2F%20%EC%84%9C%EC%9A%B8%20%2A2026%2A.md")
    text = answer.text
    assert "## You · " in text and "What is \\<b\\>HTML\\</b\\>?" in text and "A markup language." in text


def test_delete_removes_a_conversation_of_more_than_25_messages(api, seed, dynamodb, tables):
    conversation_id = seed.conversation(turns=20)  # 40 messages: two BatchWriteItem calls
    kept = seed.conversation()
    answer = api.call("conv_delete", conversation_id=conversation_id)
    assert answer.status == 200 and answer.json == {"deleted": True}
    items = dynamodb.client().scan(TableName=tables["conversations"])["Items"]
    assert {i["item_key"]["S"].split("#")[1] for i in items} == {kept}
    assert api.get(conversation_id).status == 404


def test_delete_past_its_time_budget_answers_202_and_a_repeat_finishes(load_api, dynamodb, tables):
    from conversation_support import Seeder
    api = load_api(CONVERSATION_DELETE_BUDGET_SECONDS="0.000001")  # one batch per request
    conversation_id = Seeder(api.module.ROUTES.store).conversation(turns=30)  # 60 messages: three batches
    answers = [api.call("conv_delete", conversation_id=conversation_id) for _ in range(3)]
    assert [a.status for a in answers] == [202, 202, 200]
    assert answers[0].json["deleted"] is False and "send DELETE again to finish" in answers[0].json["message"]
    assert api.listing().json["conversations"] == []  # gone from the list at the first request
    assert dynamodb.client().scan(TableName=tables["conversations"])["Items"] == []
    assert api.call("conv_delete", conversation_id=conversation_id).status == 404


def test_delete_all_removes_every_conversation_of_the_caller_only(api, seed, dynamodb, tables):
    for _ in range(3):
        seed.conversation(turns=15)
    others = seed.conversation(sub=OTHER_SUB)
    answer = api.call("conv_delete_all")
    assert answer.status == 200 and answer.json == {"deleted": True}
    items = dynamodb.client().scan(TableName=tables["conversations"])["Items"]
    assert {i["user_id"]["S"] for i in items} == {OTHER_SUB}
    assert [c["id"] for c in api.every_conversation(sub=OTHER_SUB)] == [others]


ROUTES_WITH_ID = [("conv_get", {}), ("conv_rename", {"body": {"title": "mine now"}}), ("conv_delete", {}),
                  ("conv_export", {})]


@pytest.mark.parametrize(("route", "extra"), ROUTES_WITH_ID)
def test_another_persons_conversation_answers_404_on_every_route(api, seed, route, extra):
    theirs = seed.conversation(sub=OTHER_SUB, title="their secret")
    answer = api.call(route, conversation_id=theirs, **extra)
    assert answer.status == 404
    assert answer.json == {"message": "no such conversation", "reason": "not_found"}
    assert "their secret" not in answer.text
    assert [c["title"] for c in api.every_conversation(sub=OTHER_SUB)] == ["their secret"]  # untouched


def test_another_persons_conversations_are_not_listed(api, seed):
    seed.conversation(sub=OTHER_SUB)
    assert api.listing().json == {"conversations": [], "next": None}


@pytest.mark.parametrize(("route", "extra"), ROUTES_WITH_ID)
@pytest.mark.parametrize("bad_id", ["short", "x" * 23, "AAAAAAAAAAAAAAAAAAAA%2F", "../../c#AAAAAAAAAAAAAAAAAAAAAA"])
def test_malformed_conversation_id_answers_404_on_every_route(api, route, extra, bad_id):
    answer = api.call(route, conversation_id=bad_id, **extra)
    assert answer.status == 404 and answer.json["reason"] == "not_found"


def test_expired_conversations_are_gone_before_dynamodb_deletes_them(load_api):
    from conversation_support import Seeder
    api = load_api(CONVERSATION_RETENTION_DAYS="1")
    conversation_id = Seeder(api.module.ROUTES.store).conversation()  # written 10 days ago: expired
    assert api.listing().json["conversations"] == []
    assert api.get(conversation_id).status == 404
    assert api.call("conv_export", conversation_id=conversation_id).status == 404


def test_without_a_conversations_table_every_route_is_a_500_naming_it(load_api):
    answer = load_api(CONVERSATIONS_TABLE=None).listing()
    assert answer.status == 500
    assert answer.json == {"message": "the function is misconfigured: CONVERSATIONS_TABLE must be set "
                                      "(the conversations table's name)", "reason": "internal"}


@pytest.mark.parametrize(("env", "named"), [
    ({"CONVERSATION_RETENTION_DAYS": "-1"}, "CONVERSATION_RETENTION_DAYS must be an integer from 0 to 3650"),
    ({"CONVERSATION_DELETE_BUDGET_SECONDS": "30"}, "CONVERSATION_DELETE_BUDGET_SECONDS must be a number of seconds"),
    ({"CONVERSATIONS_TABLE": "no spaces allowed"}, "CONVERSATIONS_TABLE must be a DynamoDB table name"),
    ({"AUTH": None}, 'AUTH must be "cognito" when CONVERSATIONS_TABLE is set'),
])
def test_invalid_conversation_settings_are_a_500_naming_them(load_api, env, named):
    answer = load_api(**env).listing()
    assert answer.status == 500 and named in answer.json["message"]


def test_an_event_without_authorizer_claims_is_a_500_not_an_open_door(api, seed):
    seed.conversation()
    event_answer = api.module.lambda_handler({"httpMethod": "GET", "resource": "/conversations",
                                              "requestContext": {}}, None)
    assert event_answer["statusCode"] == 500
    assert json.loads(event_answer["body"])["message"] == "the function is misconfigured: no caller from the authorizer"


def test_logs_never_contain_titles(api, seed, capsys):
    conversation_id = seed.conversation(title="a very private title")
    api.call("conv_rename", conversation_id=conversation_id, body={"title": "another private title"})
    api.listing()
    api.call("conv_export", conversation_id=conversation_id)
    out = capsys.readouterr().out
    assert "conversations answered" in out and "private" not in out


def test_delete_sends_unprocessed_items_again_until_the_batch_is_done(load_api, dynamodb, tables):
    from conversation_support import Seeder
    api = load_api(CONVERSATION_DELETE_BUDGET_SECONDS="0.000001")  # one batch per request
    conversation_id = Seeder(api.module.ROUTES.store).conversation(turns=15)  # 30 messages
    dynamodb.leave_unprocessed(2)  # DynamoDB hands back half of the batch, then half of the rest
    assert api.call("conv_delete", conversation_id=conversation_id).status == 202
    left = dynamodb.client().scan(TableName=tables["conversations"])["Items"]
    assert len(left) == 30 - 25  # the whole first batch went, its unprocessed part sent again
