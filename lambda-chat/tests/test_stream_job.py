"""The stream job, driven through the `chat` route's hand-off: the exact frames a client receives.

The fake model streams as SageMaker relays TGI (dev/fake_sagemaker.py: event-stream
framing, SSE lines split across PayloadParts, keep-alives); frames are what the
management API stand-in received. STREAM_BATCH_MS is 0 here unless a test sets it, so
every piece of text the job may send becomes its own frame.
"""

import json

import boto3
import pytest

import fake_tgi
from conftest import LambdaContext, WebSocketDriver
from core.contract import DEFAULT_REASONS
from fake_sagemaker import Behaviour

ASK = {"action": "chat", "id": "a1"}


def tokens(*texts):
    return [{"type": "token", "id": "a1", "text": t} for t in texts]


def error(status, message, reason=None):
    return {"type": "error", "id": "a1", "status": status, "message": message,
            "reason": reason or DEFAULT_REASONS[status]}


def done_msg(frames):
    """The `done` frame's msg, after checking the frames are tokens then one done."""
    *pieces, done = frames
    assert [f["type"] for f in pieces] == ["token"] * len(pieces) and done["type"] == "done"
    assert all(f["id"] == "a1" and f["text"] for f in pieces)
    assert "".join(f["text"] for f in pieces) == done["msg"]
    return done["msg"]


def log_lines(capsys):
    """The log's lines, without the metric lines (observability/metrics.py)."""
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    return [line for line in lines if "_aws" not in line]


def answer_stream(model):
    [request] = [r for r in model.requests if r.stream]
    return request


# ------------------------------------------------------------------ answers

@pytest.mark.parametrize("event", ["basic", "follow_up", "unicode", "html", "multiline", "long_conversation_en",
                                   "long_conversation_ko"])
def test_streamed_tokens_equal_done_msg_equal_post_chat_msg(load_handler, ws_with, load_event, context, event):
    body = load_event(event)
    rest = load_handler().lambda_handler(body, context)

    frames = ws_with().ask({**ASK, **body})

    assert done_msg(frames) == rest["msg"]
    assert frames[-1]["history_used"] == rest["history_used"]


def test_done_carries_timings_and_the_models_token_counts(ws, model):
    frames = ws.ask({**ASK, "text": "hi"})
    done = frames[-1]
    assert set(done) == {"type", "id", "msg", "elapsed_ms", "first_token_ms", "model_ms", "history_used",
                         "history_limits", "generated_tokens", "finish_reason"}
    assert done["history_limits"] == {"turns": 10, "chars": 8000}
    assert 0 <= done["first_token_ms"] <= done["elapsed_ms"] and 0 <= done["model_ms"] <= done["elapsed_ms"]
    assert done["generated_tokens"] == answer_stream(model).tokens_total and done["finish_reason"] == "eos_token"


def test_stream_request_is_tgis_streaming_payload(ws, model, endpoint_name):
    ws.ask({**ASK, "text": "hi"})
    request = answer_stream(model)
    assert request.path == f"/endpoints/{endpoint_name}/invocations-response-stream"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-amzn-sagemaker-accept"] == "application/json"
    assert request.json() == {"inputs": "hi", "stream": True, "parameters": {
        "max_new_tokens": 512, "return_full_text": False, "do_sample": False, "temperature": 0.5,
        "repetition_penalty": 1.03, "top_p": 0.9, "top_k": 1, "stop": ["<|endoftext|>", "</s>"],
        "details": True}}


def test_each_token_of_the_model_becomes_a_frame_without_the_leading_space(ws, model):
    model.queue(Behaviour.answer(" Paris is the capital."))
    frames = ws.ask({**ASK, "text": "Capital of France?"})
    assert frames[:-1] == tokens("Pari", "s", " is", " the", " capi", "tal", ".")
    assert frames[-1]["msg"] == "Paris is the capital."


@pytest.mark.parametrize("split", [1, 2, 7, 64])
def test_lines_json_and_utf8_split_across_payload_parts_are_joined(ws, model, split):
    model.queue(Behaviour(text=" 서울 😀 “quoted” naïve", part_bytes=split))
    frames = ws.ask({**ASK, "text": "hi"})
    assert frames[:-1] == tokens("서", "울", " 😀", " “", "quot", "ed", "”", " na", "ï", "ve")
    assert frames[-1]["msg"] == "서울 😀 “quoted” naïve"


def test_keep_alive_lines_between_tokens_are_skipped(ws, model):
    # The fake sends a keep-alive first and after every 10 tokens: 5 of them here.
    text = " " + " ".join(["word"] * 45)
    model.queue(Behaviour.answer(text))
    frames = ws.ask({**ASK, "text": "hi"})
    assert frames[:-1] == tokens("word", *[" word"] * 44)


def test_batches_gather_the_text_that_arrives_within_STREAM_BATCH_MS(ws_with, model):
    ws = ws_with(STREAM_BATCH_MS="5000")  # the whole answer arrives well within 5 s
    model.queue(Behaviour.answer(" Paris is the capital."))
    frames = ws.ask({**ASK, "text": "hi"})
    assert frames[:-1] == tokens("Pari", "s is the capital.")  # the first piece at once, then one batch


@pytest.mark.parametrize("text", [
    pytest.param(" " + "word " * 4000, id="20-KB-of-ASCII"),
    pytest.param(" " + "서울 administrative " * 1000, id="22-KB-with-Korean"),
    pytest.param(" " + '"quoted" \\ ' * 1500, id="escapes-make-the-JSON-larger-than-the-text"),
])
def test_oversized_batch_is_split_into_frames_under_32_kb(ws_with, model, connections, text):
    model.max_total_tokens = 16384
    ws = ws_with(STREAM_BATCH_MS="5000", MAX_NEW_TOKENS="8192", MODEL_MAX_TOTAL_TOKENS="16384")
    model.queue(Behaviour.answer(text))
    frames = ws.ask({**ASK, "text": "hi"})

    assert done_msg(frames) == text.strip() and frames[-1]["finish_reason"] == "eos_token"
    assert len(frames) >= 4  # the first piece, at least two pieces of the batch, done
    sizes = [len(p.data) for p in connections.posts]
    assert max(sizes) < 32 * 1024
    assert all(len(json.dumps(f["text"], ensure_ascii=False).encode()) - 2 <= 16 * 1024 for f in frames[:-1])


def test_answer_too_long_for_one_frame_ends_with_done_without_msg(ws_with, model, connections):
    model.max_total_tokens = 16384
    # Batched (not a frame per token, 7000 posts): the batches are split to fit their frames.
    ws = ws_with(MAX_NEW_TOKENS="8192", MODEL_MAX_TOTAL_TOKENS="16384", STREAM_BATCH_MS="1000")
    text = " " + "word " * 7000  # 35 KB: the tokens fit their frames, the whole answer would not
    model.queue(Behaviour.answer(text))
    *pieces, done = ws.ask({**ASK, "text": "hi"})

    assert "".join(f["text"] for f in pieces) == text.strip()
    assert done["type"] == "done" and done["msg_omitted"] is True and "msg" not in done
    assert done["finish_reason"] == "eos_token" and done["id"] == "a1"
    assert max(len(p.data) for p in connections.posts) < 32 * 1024


# ------------------------------------------------------------------ what the client never sees

def test_stop_sequence_split_across_tokens_never_reaches_the_client(ws, model):
    model.queue(Behaviour.answer(" Paris.<|endoftext|>User: and more"))
    frames = ws.ask({**ASK, "text": "hi"})
    assert frames == tokens("Pari", "s", ".") + [frames[-1]]
    assert frames[-1]["msg"] == "Paris."


def test_reading_stops_and_the_model_stream_is_closed_at_a_stop_sequence(ws, model):
    model.tokens_per_second = 200  # about 5 s for the whole answer if it were read to the end
    model.queue(Behaviour.answer(" Paris.</s>" + fake_tgi.long_text(1000)))
    frames = ws.ask({**ASK, "text": "hi"})
    assert done_msg(frames) == "Paris."
    request = answer_stream(model)
    assert request.finished.wait(10)
    assert request.client_gone and request.tokens_sent < request.tokens_total


def test_new_user_turn_invented_by_the_model_is_cut_in_a_conversation(ws, model, load_event):
    model.queue(Behaviour.answer(" About 2.1 million.\nUser: thanks\nFalcon: welcome"))
    frames = ws.ask({**ASK, **load_event("follow_up")})
    assert frames[:-1] == tokens("Abou", "t", " 2", ".", "1", " mill", "ion", ".")
    assert frames[-1]["msg"] == "About 2.1 million."


def test_trailing_whitespace_is_never_sent(ws, model):
    model.queue(Behaviour.answer(" Hi there \n\n"))
    frames = ws.ask({**ASK, "text": "hi"})
    assert frames[:-1] == tokens("Hi", " ther", "e")
    assert frames[-1]["msg"] == "Hi there"


def test_special_tokens_text_is_skipped(ws, model):
    frames = ws.ask({**ASK, "text": "hi"})  # the fake ends each answer with the special <|endoftext|>
    assert "<|endoftext|>" not in done_msg(frames)


@pytest.mark.parametrize("answer", [
    pytest.param(Behaviour.empty(), id="only-the-end-of-text-token"),
    pytest.param(Behaviour.answer("  </s> more"), id="only-a-stop-sequence"),
    pytest.param(Behaviour.answer(" \n "), id="only-whitespace"),
])
def test_empty_answer_is_a_502_error_frame(ws, model, answer):
    model.queue(answer)
    assert ws.ask({**ASK, "text": "hi"}) == [error(502, "the model returned no text")]


# ------------------------------------------------------------------ failures

STARTED = {"type": "started", "id": "a1"}
FIRST_THREE = tokens("One", " two", " thre")  # " One two three four five six" in the fake's tokens


@pytest.mark.parametrize(("fault", "expected"), [
    pytest.param("tgierror", error(502, "the model failed to answer"), id="tgi-error-line"),
    pytest.param("midfail", error(502, "the model failed to answer"), id="ModelStreamError"),
    pytest.param("streamfail", error(502, "the model service is unavailable"), id="InternalStreamFailure"),
])
def test_failure_mid_stream_ends_with_an_error_frame_after_the_tokens_sent(ws, model, fault, expected):
    model.queue(Behaviour(text=" One two three four five six", stream_fault=fault))
    assert ws.ask({**ASK, "text": "hi"}) == FIRST_THREE + [expected]


def test_unreadable_event_is_a_502_error_frame(ws, model):
    frames = ws.ask({**ASK, "text": "hi [[malformed]]"})
    assert frames == tokens("Echo") + [error(502, "the model returned an unreadable answer")]


def test_read_timeout_mid_stream_is_a_504_error_frame(ws_with, model):
    ws = ws_with(STREAM_READ_TIMEOUT_SECONDS="0.3")
    model.queue(Behaviour(text=" One two three four five six", stream_fault="stall", stall_ms=2000))
    assert ws.ask({**ASK, "text": "hi"}) == FIRST_THREE + [error(504, "the model did not answer in time")]


def test_function_about_to_time_out_stops_with_a_504_error_frame(ws, model):
    # The job starts with 3 s left, of which it keeps 2 s for itself; the model stalls for 5 s
    # (and the read timeout, 30 s, is no help).
    model.queue(Behaviour(text=" One two three four five six", stream_fault="stall", stall_ms=5000))
    ws.send({**ASK, "text": "hi"})
    ws.run_jobs(LambdaContext("lambda-chat-stream-dev", timeout_s=3))
    assert ws.frames() == [STARTED] + FIRST_THREE + [error(504, "the model did not answer in time")]


@pytest.mark.parametrize(("marker", "expected"), [
    ("[[notfound]]", error(503, "the model is not running (it may be starting up or switched off); try again later")),
    ("[[creating]]", error(503, "the model is not running (it may be starting up or switched off); try again later")),
    ("[[fail:429]]", error(429, "the model is busy, please try again shortly")),
    ("[[fail:424]]", error(502, "the model failed to answer")),
    ("[[slow:1000]]", error(504, "the model did not answer in time")),
])
def test_model_refusing_the_stream_is_one_error_frame(ws_with, model, marker, expected):
    ws = ws_with(STREAM_READ_TIMEOUT_SECONDS="0.3")
    assert ws.ask({**ASK, "text": f"hi {marker}"}) == [expected]


def test_unexpected_failure_is_a_500_error_frame_and_the_job_never_raises(ws, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise KeyError("secret internal detail")

    monkeypatch.setattr(ws.module.stream_job, "open_stream", broken)
    assert ws.ask({**ASK, "text": "hi"}) == [error(500, "internal error")]
    [line] = [x for x in log_lines(capsys) if x["message"] == "stream failed"]
    assert line["errorType"] == "KeyError" and "secret internal detail" in line["cause"]["detail"]


def test_job_without_a_connection_is_logged_and_dropped(stream, capsys):
    context = LambdaContext("lambda-chat-stream-dev")
    assert stream.lambda_handler({"streamJob": {"id": "a1", "text": "hi"}}, context) == {"statusCode": 200}
    assert [x["message"] for x in log_lines(capsys)][-1] == "stream job without a connection"


# ------------------------------------------------------------------ the client side

def test_client_gone_stops_the_answer_and_closes_the_model_stream(ws, model, connections, capsys):
    model.tokens_per_second = 200  # about 5 s for the whole answer if it were read to the end
    connections.gone_after(ws.connection_id, 3)  # started, then two tokens
    frames = ws.ask({**ASK, "text": "hi [[long:1000]]"})

    assert frames == tokens("Echo", ":")
    assert [p.status for p in connections.posts] == [200, 200, 200, 410]  # nothing after the 410
    request = answer_stream(model)
    assert request.finished.wait(10)
    assert request.client_gone and request.tokens_sent < request.tokens_total
    [line] = [x for x in log_lines(capsys) if x["message"] == "stream stopped"]
    assert line["reason"] == "the client has gone" and line["frames"] == 3


def test_throttled_post_is_retried_then_delivered(ws, model, connections):
    model.queue(Behaviour.answer(" Paris is the capital."))
    connections.throttle(2)
    frames = ws.ask({**ASK, "text": "hi"})
    assert frames[:-1] == tokens("Pari", "s", " is", " the", " capi", "tal", ".")
    assert [p.status for p in connections.posts[:3]] == [429, 429, 200]


def test_throttled_post_gives_up_on_the_answer_after_bounded_retries(ws, model, connections, capsys):
    connections.throttle(100)
    assert ws.ask({**ASK, "text": "hi [[long:1000]]"}) == []
    assert [p.status for p in connections.posts] == [429] * 4  # the `started` frame, retried
    assert model.requests == []  # nobody to tell: the model is never paid for
    [line] = [x for x in log_lines(capsys) if x["message"] == "stream stopped"]
    assert line["reason"] == "frames could not be posted" and line["cause"]["code"] == "LimitExceededException"


# ------------------------------------------------------------------ the token budget

@pytest.mark.parametrize("name", ["long_conversation_en", "long_conversation_ko"])
def test_history_is_trimmed_to_the_token_budget_in_the_stream_too(load_handler, ws_with, model, load_event,
                                                                  context, name):
    body = load_event(name)
    rest = load_handler().lambda_handler(body, context)
    rest_prompt = model.requests[-1].json()["inputs"]

    frames = ws_with().ask({**ASK, **body})

    assert answer_stream(model).json()["inputs"] == rest_prompt
    assert frames[-1]["history_used"] == rest["history_used"] < len(body["history"])


@pytest.mark.parametrize("name", ["long_conversation_en", "long_conversation_ko"])
def test_stream_refused_as_too_long_is_retried_once_with_less_history(ws, model, load_event, name):
    body = load_event(name)
    model.max_input_tokens = 400  # less than the function was told: TGI's validation event
    frames = ws.ask({**ASK, **body})

    first, second = [r for r in model.requests if r.stream]
    used = frames[-1]["history_used"]
    assert fake_tgi.last_user_message(second.json()["inputs"])[1] == used
    assert used < fake_tgi.last_user_message(first.json()["inputs"])[1]
    assert fake_tgi.count_tokens(second.json()["inputs"]) <= 400
    assert done_msg(frames) == f"Echo: {body['text']} ({used} earlier {'turn' if used == 1 else 'turns'})"


@pytest.mark.parametrize(("text", "tokens_counted"), [
    ("The quick brown fox jumps over the lazy dog. " * 20, 260),
    ("비 오는 날에는 어디를 방문하면 좋을까요? " * 10, 350),
])
def test_question_too_long_for_the_model_is_a_400_error_frame(ws, model, load_event, text, tokens_counted):
    model.max_input_tokens = 200
    frames = ws.ask({**ASK, **load_event("long_conversation_en"), "text": text})
    assert frames == [error(400, f"text is too long for the model: about {tokens_counted} tokens, at most 200")]
    assert len([r for r in model.requests if r.stream]) == 2  # with history, then without


# ------------------------------------------------------------------ logs

def test_answer_is_logged_once_with_timings_and_counts_but_no_text(ws, capsys):
    ws.ask({**ASK, "text": "my secret question"})
    [line] = [x for x in log_lines(capsys) if x["message"] == "stream answered"]
    assert line["connectionId"] == ws.connection_id and line["id"] == "a1" and line["status"] == 200
    assert line["requestId"] == ws.context.aws_request_id
    assert {"elapsed_ms", "first_token_ms", "model_ms", "generated_tokens", "frames", "history_used"} <= set(line)
    assert "secret" not in json.dumps(line)


def test_prompt_and_answer_are_logged_with_LOG_PROMPTS_true(ws_with, capsys):
    ws = ws_with(LOG_PROMPTS="true")
    ws.ask({**ASK, "text": "my secret question"})
    [line] = [x for x in log_lines(capsys) if x["message"] == "stream answered"]
    assert line["prompt"] == "my secret question"
    assert line["answer"] == "Echo: my secret question (0 earlier turns)"


def test_each_client_is_created_once_and_reused_with_the_stream_read_timeout(load_stream, connections, invoke,
                                                                             monkeypatch):
    created = {}
    real_client = boto3.client

    def counting_client(service, *args, **kwargs):
        assert service not in created
        created[service] = real_client(service, *args, **kwargs)
        return created[service]

    monkeypatch.setattr(boto3, "client", counting_client)
    ws = WebSocketDriver(load_stream(STREAM_READ_TIMEOUT_SECONDS="12"), connections, invoke)
    for n in (1, 2, 3):
        assert ws.ask({**ASK, "text": f"question {n}"})[-1]["type"] == "done"
    assert sorted(created) == ["apigatewaymanagementapi", "lambda", "sagemaker-runtime"]
    config = created["sagemaker-runtime"].meta.config
    assert (config.read_timeout, config.retries["total_max_attempts"]) == (12.0, 1)
    assert created["apigatewaymanagementapi"].meta.endpoint_url == connections.url("dev")
