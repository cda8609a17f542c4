"""Prompts that always fit the model: history trimmed to the token budget, TGI's 422 learned from.

The fake model counts tokens with its own stand-in tokenizer (dev/fake_tgi.py) and
refuses, as TGI does, prompts over its limits; the handler only estimates. Conversations
are tests/events/long_conversation_{en,ko}.json (10 turns each).
"""

import json
import random

import pytest

import fake_tgi
from fake_sagemaker import Behaviour

CONVERSATIONS = ["long_conversation_en", "long_conversation_ko"]


def chat_lines(out):
    return [line for line in (json.loads(x) for x in out.splitlines() if x.startswith("{")) if "_aws" not in line]


@pytest.fixture
def prompt(handler):
    """The prompt module of the cold-started handler."""
    from model import prompt
    return prompt


@pytest.mark.parametrize(("text", "estimate"), [
    ("What is the capital of France?", 11),  # letters ceil(n/3) a run, "?" 1, single spaces 0
    ("안녕하세요", 15),  # Korean: 3 a character (UTF-8 length)
    ("😀", 4),
    ("Crème brûlée", 11),  # accented letters 2 each, the ASCII runs between them 1 each
    ("2,102,650", 9),  # digits and commas 1 each
    ("line one\nline  two", 8),  # a line break 1, a second space 1
])
def test_estimate_follows_its_documented_rules(prompt, text, estimate):
    assert prompt.estimate_tokens(text) == estimate


def sample_texts():
    """Realistic text of many kinds, and random strings from a fixed seed."""
    yield from [
        "What is the capital of France?", "서울의 인구는 얼마인가요? 🇰🇷 Ünïcödé — “quoted” ½ ∑ 😀",
        "```python\ndef greet(name):\n    return f\"Hello, {name}!\"\n```", "2,102,650 residents in 2023.",
        "<script>alert(1)</script><b>bold</b> & \"quotes\"", "東京は日本の首都です。", "a  b   c\t\td\r\n",
        "supercalifragilisticexpialidocious", "x" * 800, "1234567890" * 40,
    ]
    rng = random.Random(20261126)
    alphabet = "abcXYZ019 .,!?\n\t가나다漢字😀éß-_"
    for _ in range(300):
        yield "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80)))


def test_estimate_is_never_below_the_fake_models_own_count(prompt):
    for text in sample_texts():
        assert prompt.estimate_tokens(text) >= fake_tgi.count_tokens(text), repr(text)


def test_estimates_of_whole_lines_add_up_to_the_estimate_of_the_prompt(prompt):
    # History is priced line by line ("Falcon: ...\n"); the sum must be the prompt's estimate.
    for text in sample_texts():
        lines = text.splitlines(keepends=True)
        assert sum(prompt.estimate_tokens(line) for line in lines) == prompt.estimate_tokens(text), repr(text)


@pytest.mark.parametrize("name", CONVERSATIONS)
def test_long_conversation_keeps_the_newest_history_that_fits(handler, prompt, model, context, load_event, name):
    body = load_event(name)
    result = handler.lambda_handler(body, context)

    used = result["history_used"]
    assert 0 < used < len(body["history"])
    kept = [prompt.Turn(t["role"], t["content"]) for t in body["history"][-used:]]
    [sent] = model.requests
    assert sent.json()["inputs"] == prompt.build_prompt(body["text"], kept)
    assert result["msg"] == f"Echo: {body['text']} ({used} earlier turns)"
    # The most that fits the estimate: one more (older) entry would not.
    budget = handler.SETTINGS.input_budget
    assert prompt.estimate_tokens(sent.json()["inputs"]) <= budget
    one_more = [prompt.Turn(t["role"], t["content"]) for t in body["history"][-used - 1:]]
    assert prompt.estimate_tokens(prompt.build_prompt(body["text"], one_more)) > budget
    # And the model's own count agrees it fits.
    assert fake_tgi.count_tokens(sent.json()["inputs"]) <= model.max_input_tokens


@pytest.mark.parametrize("name", CONVERSATIONS)
def test_dropped_history_is_logged_without_its_text(handler, context, load_event, capsys, name):
    body = load_event(name)
    result = handler.lambda_handler(body, context)
    [line] = [x for x in chat_lines(capsys.readouterr().out) if x["message"] == "chat answered"]
    assert line["history_turns"] == 10
    assert line["history_used"] == result["history_used"]
    assert line["history_dropped"] == 10 - result["history_used"]
    assert body["history"][0]["content"][:20] not in json.dumps(line, ensure_ascii=False)


def test_question_is_kept_and_history_dropped_when_only_the_question_fits(handler, model, context):
    question = "Please summarise this: " + "The quick brown fox jumps over the lazy dog. " * 60
    history = [{"role": "user", "content": "An earlier question " * 30},
               {"role": "assistant", "content": "An earlier answer " * 30}]
    result = handler.lambda_handler({"text": question, "history": history}, context)
    assert result["history_used"] == 0
    assert model.requests[0].json()["inputs"] == question.strip()


def short_conversation(body):
    """The conversation with each entry cut to its first sentence: many small turns."""
    return {**body, "history": [{**t, "content": t["content"].split(". ")[0].split("다. ")[0]}
                                for t in body["history"]]}


@pytest.mark.parametrize("name", CONVERSATIONS)
@pytest.mark.parametrize("limit", ["max_input_tokens", "max_total_tokens"])
def test_model_refusing_the_prompt_as_too_long_is_retried_once_with_less_history(
        handler, prompt, model, context, load_event, capsys, name, limit):
    body = short_conversation(load_event(name))
    whole = prompt.build_prompt(body["text"], [prompt.Turn(t["role"], t["content"]) for t in body["history"]])
    assert prompt.estimate_tokens(whole) <= handler.SETTINGS.input_budget  # all of it is sent first
    # The endpoint allows a little less than that prompt (it counts more than estimated,
    # or its limits are lower than the function was told).
    room = fake_tgi.count_tokens(whole) - 1
    setattr(model, limit, room if limit == "max_input_tokens" else room + 512)

    result = handler.lambda_handler(body, context)

    first, second = model.requests
    assert first.json()["inputs"] == whole
    assert (first.status, second.status) == (424, 200)
    assert result["history_used"] == fake_tgi.last_user_message(second.json()["inputs"])[1]
    assert 0 < result["history_used"] < len(body["history"])
    assert fake_tgi.count_tokens(second.json()["inputs"]) <= room
    assert result["msg"] == f"Echo: {body['text']} ({result['history_used']} earlier turns)"
    [retry] = [x for x in chat_lines(capsys.readouterr().out) if "retrying with less history" in x["message"]]
    assert retry["model_tokens"] == room + 1 and retry["model_limit"] == room


@pytest.mark.parametrize(("text", "tokens"), [
    ("The quick brown fox jumps over the lazy dog. " * 20, 260),
    ("비 오는 날에는 어디를 방문하면 좋을까요? " * 10, 350),
])
def test_question_alone_too_long_for_the_model_answers_400_after_one_retry(
        handler, model, context, load_event, text, tokens):
    model.max_input_tokens = 200
    body = {**load_event("long_conversation_en"), "text": text}
    with pytest.raises(handler.ChatError) as raised:
        handler.lambda_handler(body, context)
    assert str(raised.value) == f"[400] text is too long for the model: about {tokens} tokens, at most 200"
    first, second = model.requests
    assert fake_tgi.last_user_message(first.json()["inputs"])[1] > 0
    assert second.json()["inputs"] == text.strip()  # the retry drops every entry it must


def test_question_too_long_without_history_is_not_retried(load_handler, model, context):
    model.max_input_tokens = 200
    handler = load_handler(MODEL_MAX_INPUT_TOKENS="200")
    with pytest.raises(handler.ChatError) as raised:
        handler.lambda_handler({"text": "The quick brown fox jumps over the lazy dog. " * 20}, context)
    assert str(raised.value) == "[400] text is too long for the model: about 260 tokens, at most 200"
    assert len(model.requests) == 1


@pytest.mark.parametrize(("message", "tokens", "limit"), [
    ("Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048. "
     "Given: 1600 `inputs` tokens and 512 `max_new_tokens`", 1600, 1536),
    ("Input validation error: `inputs` must have less than 1024 tokens. Given: 1100", 1100, 1024),
    ("Input validation error: input tokens + max_new_tokens must be <= 2048. "  # TGI before 1.0
     "Given: 1600 input tokens and 512 max_new_tokens", 1600, 1536),
])
def test_tgis_too_long_messages_give_the_real_count_and_limit(handler, message, tokens, limit):
    from core import failures
    found = failures.too_long_in(message)
    assert (found.tokens, found.limit) == (tokens, limit)


def test_other_validation_errors_of_the_model_are_not_mistaken_for_a_long_prompt(handler, model, context):
    tgi_422 = json.dumps({"error": "Input validation error: `top_p` must be > 0.0 and < 1.0",
                          "error_type": "validation"})
    model.queue(Behaviour(status=424, error_message=f'Received client error (422) from primary with message '
                                                    f'"{tgi_422}".', original=(422, tgi_422)))
    with pytest.raises(handler.ChatError) as raised:
        handler.lambda_handler({"text": "hi", "history": [{"role": "user", "content": "x"}]}, context)
    assert str(raised.value) == "[502] the model rejected the request"
    assert len(model.requests) == 1
