"""Falcon 3 through TGI's Messages API: both functions, non-streaming and streaming, against
the fake model's Messages route (dev/fake_chat.py), with the limits the stack gives
Falcon3-7B (stacks/model/catalogue.ts), and the upgrade window from the seed's model."""

import json

import pytest

import fake_chat
import fake_tgi
from conftest import LambdaContext
from fake_eventstream import payload_part
from fake_sagemaker import Behaviour

SYSTEM = "You are a helpful assistant. Answer in the language of the user's question."
# What the stack sets for tiiuae/Falcon3-7B-Instruct (jest: model-catalogue.test.ts).
FALCON3 = {"PAYLOAD_STYLE": "messages", "MODEL_TOKENIZER": "falcon3", "SYSTEM_PROMPT": SYSTEM,
           "MODEL_MAX_INPUT_TOKENS": "31744", "MODEL_MAX_TOTAL_TOKENS": "32768", "MAX_NEW_TOKENS": "1024",
           "DO_SAMPLE": "false", "TEMPERATURE": "0.7", "TOP_P": "0.9", "STOP_SEQUENCES": "[]",
           "MAX_HISTORY_TURNS": "40", "MAX_HISTORY_CHARS": "24000"}
ASK = {"action": "chat", "id": "a1"}


@pytest.fixture
def falcon3(model):
    """The fake model as TGI 3.3.6 serving Falcon3-7B with the stack's limits."""
    model.max_input_tokens, model.max_total_tokens = 31744, 32768
    return model


@pytest.fixture
def chat(load_handler, falcon3):
    return load_handler(**FALCON3)


def done_msg(frames):
    *pieces, done = frames
    assert [f["type"] for f in pieces] == ["token"] * len(pieces) and done["type"] == "done", frames
    assert "".join(f["text"] for f in pieces) == done["msg"]
    return done


def conversation(content_of, turns):
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": content_of(i)} for i in range(turns)]


# ------------------------------------------------------------------ POST /chat

def test_post_chat_sends_the_system_prompt_history_and_question_as_messages(chat, falcon3, context):
    history = [{"role": "user", "content": "What is TGI?"}, {"role": "assistant", "content": "A server."}]
    result = chat.lambda_handler({"text": "And vLLM?", "history": history}, context)

    [sent] = falcon3.requests
    body = sent.json()
    assert body["messages"] == [{"role": "system", "content": SYSTEM}, *history, {"role": "user", "content": "And vLLM?"}]
    assert "inputs" not in body and "parameters" not in body
    assert result["msg"] == "Echo: And vLLM? (2 earlier turns)"
    assert result["history_used"] == 2
    # Read from choices[0].message.content, with what usage and finish_reason say.
    assert (result["finish_reason"], result["generated_tokens"]) == ("stop", len(fake_tgi.fake_tokens(" Echo: And vLLM? (2 earlier turns)")) + 1)


def test_greedy_defaults_become_temperature_0_without_generate_only_fields(chat, falcon3, context):
    chat.lambda_handler({"text": "hi"}, context)
    body = falcon3.requests[0].json()
    assert {k: v for k, v in body.items() if k != "messages"} == {"max_tokens": 1024, "temperature": 0}
    for absent in ("top_k", "repetition_penalty", "do_sample", "model", "stop", "top_p", "stream"):
        assert absent not in body


def test_sampling_settings_map_onto_the_messages_api(load_handler, falcon3, context):
    handler = load_handler(**{**FALCON3, "DO_SAMPLE": "true", "TEMPERATURE": "0.3", "TOP_P": "0.8",
                              "REPETITION_PENALTY": "1.1", "STOP_SEQUENCES": '["###"]'})
    handler.lambda_handler({"text": "hi"}, context)
    body = falcon3.requests[0].json()
    # presence_penalty p reaches TGI's generate as repetition_penalty p + 2 (router/src/lib.rs).
    assert {k: v for k, v in body.items() if k != "messages"} == {
        "max_tokens": 1024, "temperature": 0.3, "top_p": 0.8, "stop": ["###"], "presence_penalty": -0.9}


@pytest.mark.parametrize(("parameters", "expected"), [
    ({"max_new_tokens": 512, "do_sample": False, "temperature": 0.5, "top_p": 0.9, "stop": [], "repetition_penalty": 1.03},
     {"max_tokens": 512, "temperature": 0}),
    ({"max_new_tokens": 64, "do_sample": True, "temperature": 1.2, "top_p": 0.5, "stop": ["\n\n"], "repetition_penalty": 1.0},
     {"max_tokens": 64, "temperature": 1.2, "top_p": 0.5, "stop": ["\n\n"]}),
])
def test_generation_mapping(chat, parameters, expected):
    from payloads.messages import chat_parameters
    assert chat_parameters(parameters, repetition_penalty_set=False) == expected


def test_history_is_made_to_alternate_before_the_chat_template_sees_it(chat, falcon3, context):
    history = [
        {"role": "assistant", "content": "Hello! How can I help?"},  # before any question: dropped
        {"role": "user", "content": "First question"},  # its answer failed: superseded
        {"role": "user", "content": "First question, again"},
        {"role": "assistant", "content": "Part one."},
        {"role": "assistant", "content": "Part two."},  # one answer in two entries: joined
        {"role": "user", "content": "A question whose answer failed"},  # last, unanswered: dropped
    ]
    result = chat.lambda_handler({"text": "Next", "history": history}, context)
    roles = [m["role"] for m in falcon3.requests[0].json()["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert falcon3.requests[0].json()["messages"][2]["content"] == "Part one.\n\nPart two."
    assert falcon3.requests[0].status == 200  # the fake's strict template accepted it
    assert result["history_used"] == 2


def test_normalization_rules(chat):
    from core.contract import Turn
    from payloads.history import alternating
    u, a = (lambda c: Turn("user", c)), (lambda c: Turn("assistant", c))
    assert alternating([a("x"), u("q1"), a("r1")]) == (u("q1"), a("r1"))
    assert alternating([u("q1"), u("q2"), a("r2"), u("q3")]) == (u("q2"), a("r2"))
    assert alternating([u("q1"), a("r1"), a("r2")]) == (u("q1"), a("r1\n\nr2"))
    assert alternating([u("q1")]) == ()


def english(i):
    return f"Turn {i}: " + "The quick brown fox jumps over the lazy dog near the river bank. " * 9


def korean(i):
    return f"{i}번째: " + "서울은 대한민국의 수도이며 한강이 도시를 가로질러 흐릅니다. " * 17


def test_a_long_english_conversation_fits_falcon3s_window_whole(chat, falcon3, context):
    history = conversation(english, 40)
    assert sum(len(t["content"]) for t in history) <= 24_000
    result = chat.lambda_handler({"text": "Summarise.", "history": history}, context)
    assert result["history_used"] == 40  # the 2023 7B's 1024 tokens held two or three of these turns
    assert fake_tgi.count_tokens(fake_chat.render(falcon3.requests[0].json()["messages"], "falcon3")) <= 31744


def test_a_long_korean_conversation_keeps_the_newest_exchanges_that_fit(chat, falcon3, context):
    history = conversation(korean, 40)
    assert sum(len(t["content"]) for t in history) <= 24_000
    result = chat.lambda_handler({"text": "요약해 주세요.", "history": history}, context)
    used = result["history_used"]
    assert 0 < used < 40 and used % 2 == 0  # whole exchanges, the oldest dropped
    messages = falcon3.requests[0].json()["messages"]
    assert messages[1]["content"] == history[-used]["content"].strip()
    assert chat.SETTINGS.input_budget == min(31744, 32768 - 1024)
    from payloads.tokens import estimate_tokens
    assert estimate_tokens(fake_chat.render(messages, "falcon3"), "falcon3") <= chat.SETTINGS.input_budget
    assert fake_tgi.count_tokens(fake_chat.render(messages, "falcon3")) <= 31744


def test_the_messages_routes_422_is_the_backstop_when_the_estimate_falls_short(chat, falcon3, context, capsys):
    history = conversation(english, 20)
    whole = fake_tgi.count_tokens(fake_chat.render(
        [{"role": "system", "content": SYSTEM}, *history, {"role": "user", "content": "Go on."}], "falcon3"))
    falcon3.max_input_tokens = whole - 1  # the endpoint allows a little less than the estimate let through
    result = chat.lambda_handler({"text": "Go on.", "history": history}, context)
    first, second = falcon3.requests
    assert (first.status, second.status) == (424, 200)
    assert len(first.json()["messages"]) == 22 and 0 < result["history_used"] < 20
    assert any("retrying with less history" in line for line in capsys.readouterr().out.splitlines())


def test_a_question_too_long_for_the_messages_route_is_400(chat, falcon3, context):
    falcon3.max_input_tokens = 40
    with pytest.raises(chat.ChatError, match=r"^\[400\] text is too long for the model: about \d+ tokens, at most 40$"):
        chat.lambda_handler({"text": "The quick brown fox jumps over the lazy dog. " * 10}, context)


# ------------------------------------------------------------------ streaming

@pytest.fixture
def ws3(ws_with, falcon3):
    return ws_with(**FALCON3)


def test_stream_reads_delta_content_to_done_with_usage(ws3, falcon3):
    frames = ws3.ask({**ASK, "text": "Hello there", "history": [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]})
    done = done_msg(frames)
    assert done["msg"] == "Echo: Hello there (2 earlier turns)"
    # generated_tokens came from the empty-choices usage chunk, which comes only when asked.
    assert (done["finish_reason"], done["generated_tokens"]) == ("stop", len(fake_tgi.fake_tokens(" Echo: Hello there (2 earlier turns)")) + 1)
    body = [r for r in falcon3.requests if r.stream][0].json()
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"][0] == {"role": "system", "content": SYSTEM}


def test_stream_survives_chunks_split_into_tiny_event_stream_parts(ws3):
    frames = ws3.ask({**ASK, "text": "Split [[split:7]] 비 오는 날"})
    assert done_msg(frames)["msg"] == "Echo: Split [[split:7]] 비 오는 날 (0 earlier turns)"


def test_stream_in_stream_error_object_becomes_an_error_frame(ws3):
    frames = ws3.ask({**ASK, "text": "Fail later [[tgierror]]"})
    assert frames[-1] == {"type": "error", "id": "a1", "status": 502, "message": "the model failed to answer",
                          "reason": "model_error"}
    assert [f["type"] for f in frames[:-1]] == ["token"] * (len(frames) - 1) and frames[:-1]


def test_stream_too_long_reported_in_stream_is_retried_with_less_history(ws3, falcon3):
    history = conversation(english, 20)
    whole = fake_tgi.count_tokens(fake_chat.render(
        [{"role": "system", "content": SYSTEM}, *history, {"role": "user", "content": "Go on."}], "falcon3"))
    falcon3.max_input_tokens = whole - 1
    done = done_msg(ws3.ask({**ASK, "text": "Go on.", "history": history}))
    streams = [r for r in falcon3.requests if r.stream]
    assert len(streams) == 2 and 0 < done["history_used"] < 20


def test_model_stream_parses_chat_chunks_usage_and_done_split_anywhere(chat):
    from model.stream import Deadline, ModelStream
    raw = (b": keep-alive\n\n"
           + fake_chat._chunk("m", "Hel", None) + fake_chat._chunk("m", "lo", None)
           + fake_chat._chunk("m", "", "stop")
           + b'data: {"object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}\n\n'
           + b"data: [DONE]\n\n")

    class Body:
        def __init__(self, parts):
            self.parts = parts

        def __iter__(self):
            return iter({"PayloadPart": {"Bytes": p}} for p in self.parts)

        def close(self):
            pass

    for size in (1, 3, 17, len(raw)):
        parts = [raw[i:i + size] for i in range(0, len(raw), size)]
        events = list(ModelStream(Body(parts), 5, Deadline(lambda: 60_000, 0)))
        assert "".join(e.text for e in events) == "Hello"
        assert events[-1].final and events[-1].details == {"finish_reason": "stop", "generated_tokens": 3}
    assert payload_part(b"x")  # the fake's framing is what the functions read in the tests above


def test_model_stream_raises_the_messages_error_object_classified_by_its_message(chat):
    from core.failures import ModelReported, to_chat_error, too_long_event
    from model.stream import Deadline, ModelStream
    message = "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 100. Given: 120 `inputs` tokens and 10 `max_new_tokens`"

    class Body:
        def __iter__(self):
            yield {"PayloadPart": {"Bytes": fake_chat.error_event(message) + fake_chat.DONE}}

        def close(self):
            pass

    with pytest.raises(ModelReported) as raised:
        list(ModelStream(Body(), 5, Deadline(lambda: 60_000, 0)))
    assert raised.value.error_type == "validation"
    too_long = too_long_event(raised.value)
    assert (too_long.tokens, too_long.limit) == (120, 90)
    overloaded = ModelReported("Model is overloaded", fake_chat_kind("Model is overloaded"))
    assert to_chat_error(overloaded).status == 429


def fake_chat_kind(message):
    from payloads.messages import error_kind
    return error_kind(message)


# ------------------------------------------------------------------ upgrade window

def test_post_chat_falls_back_to_inputs_while_the_old_model_without_a_template_still_serves(chat, falcon3, context, capsys):
    falcon3.chat_template = None  # the seed's JumpStart Falcon 7B, before the blue/green switch
    result = chat.lambda_handler({"text": "Still there?", "history": [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}, context)
    first, second = falcon3.requests
    assert first.status == 424 and "messages" in first.json()
    assert second.json()["inputs"] == f"{SYSTEM}\nUser: Hi\nFalcon: Hello!\nUser: Still there?\nFalcon:"
    assert second.json()["parameters"]["stop"] == ["<|endoftext|>", "</s>"]
    assert result["msg"] == "Echo: Still there? (2 earlier turns)"
    assert any("no chat template" in line for line in capsys.readouterr().out.splitlines())


def test_stream_falls_back_to_inputs_while_the_old_model_still_serves(ws3, falcon3):
    falcon3.chat_template = None
    done = done_msg(ws3.ask({**ASK, "text": "Still there?"}))
    assert done["msg"] == "Echo: Still there? (0 earlier turns)"
    streams = [r.json() for r in falcon3.requests if r.stream]
    assert "messages" in streams[0] and streams[1]["inputs"].endswith("User: Still there?\nFalcon:")


def test_an_old_function_sending_inputs_keeps_working_on_the_new_model(load_handler, falcon3, context):
    # The reverse order of the update: the function still in the inputs style, TGI 3 serving.
    result = load_handler().lambda_handler({"text": "hello"}, context)
    assert result["msg"] == "Echo: hello (0 earlier turns)"


def test_an_answer_in_the_messages_shape_is_read_by_an_inputs_function(load_handler, model, context):
    model.queue(Behaviour.reply({"choices": [{"index": 0, "message": {"role": "assistant", "content": " Hi."},
                                              "finish_reason": "stop"}]}))
    assert load_handler().lambda_handler({"text": "hello"}, context)["msg"] == "Hi."


# ------------------------------------------------------------------ the inputs style's system prompt

def test_inputs_style_sends_the_system_prompt_as_the_opening_line(load_handler, model, context):
    handler = load_handler(SYSTEM_PROMPT="Be brief.")
    handler.lambda_handler({"text": "hello"}, context)
    body = model.requests[0].json()
    assert body["inputs"] == "Be brief.\nUser: hello\nFalcon:"
    assert body["parameters"]["stop"][-1:] != ["\nUser:"]  # the cut is the function's own


def test_a_system_prompt_over_half_the_budget_is_a_configuration_error(load_handler, context):
    handler = load_handler(SYSTEM_PROMPT="가" * 200)  # 600 estimated tokens > 1024 / 2
    with pytest.raises(handler.ChatError, match=r"^\[500\] the function is misconfigured: SYSTEM_PROMPT must be at most about 512 tokens"):
        handler.lambda_handler({"text": "hello"}, LambdaContext())


def test_falcon3_estimate_is_never_below_the_fake_models_own_count(chat):
    from payloads.tokens import estimate_tokens
    texts = ["The quick brown fox jumps over the lazy dog.", "2,102,650 residents in 2023.",
             "비 오는 날에는 어디를 방문하면 좋을까요?", "Ça coûte 12,50 € — où ça ? 🦅",
             fake_chat.render([{"role": "system", "content": SYSTEM}, {"role": "user", "content": "hi  there\n\tok"}], "falcon3")]
    for text in texts:
        assert estimate_tokens(text, "falcon3") >= fake_tgi.count_tokens(text), text
        # Falcon 3's larger vocabulary is estimated at fewer tokens for English than the 2023 Falcon's.
        assert estimate_tokens(text, "falcon3") <= estimate_tokens(text, "falcon")


def test_an_old_tgi_that_cannot_read_a_messages_body_gets_the_inputs_style(chat, falcon3, context):
    # TGI 1.4.0 (the 40B's image) reads only `inputs` on /invocations: axum's 422.
    original = "Failed to deserialize the JSON body into the target type: missing field `inputs` at line 1 column 120"
    falcon3.queue(Behaviour(status=424, error_message="Received client error (422) from primary",
                            original=(422, original)))
    result = chat.lambda_handler({"text": "hello"}, context)
    first, second = falcon3.requests
    assert "messages" in first.json() and second.json()["inputs"] == f"{SYSTEM}\nUser: hello\nFalcon:"
    assert result["msg"] == "Echo: hello (0 earlier turns)"


def test_other_422s_of_the_messages_route_are_not_mistaken_for_an_old_model(chat, falcon3, context):
    falcon3.queue(Behaviour(status=424, error_message="Received client error (422) from primary",
                            original=(422, json.dumps({"error": "Input validation error: `top_p` must be > 0.0 and < 1.0",
                                                       "error_type": "validation"}))))
    with pytest.raises(chat.ChatError, match=r"^\[502\] the model rejected the request$"):
        chat.lambda_handler({"text": "hello"}, context)
    assert len(falcon3.requests) == 1
