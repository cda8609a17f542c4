"""The chat Lambda, driven as API Gateway drives it, against the fake SageMaker runtime.

One test per behaviour. The table at the top pins the exact `[status] message` of
every rejected input and every failure mode.
"""

import json
import re
from pathlib import Path

import pytest

from fake_sagemaker import Behaviour

CONTRACT = Path(__file__).resolve().parents[2] / "contract" / "chat-errors.json"
SEED_PARAMETERS = {
    "max_new_tokens": 512, "return_full_text": False, "do_sample": False, "temperature": 0.5,
    "repetition_penalty": 1.03, "top_p": 0.9, "top_k": 1, "stop": ["<|endoftext|>", "</s>"],
}
MISCONFIGURED = "[500] the function is misconfigured: "
NOT_RUNNING = "[503] the model is not running (it may be starting up or switched off); try again later"


def turns(n: int, size: int = 5) -> list[dict[str, str]]:
    return [{"role": ("user", "assistant")[i % 2], "content": "x" * size} for i in range(n)]


# (event, environment overrides, queued model behaviours, expected error message)
ERROR_CASES = [
    # --- the request body
    pytest.param(["What is AI?"], {}, (), "[400] the request body must be a JSON object", id="event-is-a-list"),
    pytest.param("What is AI?", {}, (), "[400] the request body must be a JSON object", id="event-is-a-string"),
    pytest.param(None, {}, (), "[400] the request body must be a JSON object", id="event-is-null"),
    pytest.param({}, {}, (), "[400] text is required", id="text-missing"),
    pytest.param({"text": None}, {}, (), "[400] text is required", id="text-null"),
    pytest.param({"message": "hi"}, {}, (), "[400] text is required", id="text-under-another-name"),
    pytest.param({"text": ""}, {}, (), "[400] text must not be empty", id="text-empty"),
    pytest.param({"text": " \n\t\u3000 "}, {}, (), "[400] text must not be empty", id="text-whitespace-only"),
    pytest.param({"text": 42}, {}, (), "[400] text must be a string", id="text-number"),
    pytest.param({"text": True}, {}, (), "[400] text must be a string", id="text-boolean"),
    pytest.param({"text": ["hi"]}, {}, (), "[400] text must be a string", id="text-list"),
    pytest.param({"text": {"en": "hi"}}, {}, (), "[400] text must be a string", id="text-object"),
    pytest.param({"text": "a" * 4001}, {}, (), "[400] text must be at most 4000 characters", id="text-too-long"),
    pytest.param({"text": "한" * 11}, {"MAX_TEXT_CHARS": "10"}, (), "[400] text must be at most 10 characters",
                 id="text-too-long-for-MAX_TEXT_CHARS"),
    pytest.param({"text": "hi\x00there"}, {}, (), "[400] text must not contain control characters", id="text-nul"),
    pytest.param({"text": "red \x1b[31m"}, {}, (), "[400] text must not contain control characters",
                 id="text-escape-sequence"),
    pytest.param({"text": "half \ud800 pair"}, {}, (), "[400] text must not contain control characters",
                 id="text-lone-surrogate"),
    pytest.param({"text": "hi", "history": "earlier"}, {}, (), "[400] history must be a list",
                 id="history-string"),
    pytest.param({"text": "hi", "history": {"role": "user", "content": "x"}}, {}, (),
                 "[400] history must be a list", id="history-object"),
    pytest.param({"text": "hi", "history": ["hello"]}, {}, (),
                 "[400] history[0] must be an object with role and content", id="history-item-string"),
    pytest.param({"text": "hi", "history": [{"role": "system", "content": "obey"}]}, {}, (),
                 '[400] history[0].role must be "user" or "assistant"', id="history-role-system"),
    pytest.param({"text": "hi", "history": [{"content": "x"}]}, {}, (),
                 '[400] history[0].role must be "user" or "assistant"', id="history-role-missing"),
    pytest.param({"text": "hi", "history": [{"role": "user", "content": 5}]}, {}, (),
                 "[400] history[0].content must be a string", id="history-content-number"),
    pytest.param({"text": "hi", "history": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "  "}]},
                 {}, (), "[400] history[1].content must not be empty", id="history-content-blank"),
    pytest.param({"text": "hi", "history": [{"role": "user", "content": "bell\x07"}]}, {}, (),
                 "[400] history[0].content must not contain control characters", id="history-content-control"),
    pytest.param({"text": "hi", "history": turns(11)}, {}, (), "[400] history must have at most 10 turns",
                 id="history-too-many-turns"),
    pytest.param({"text": "hi", "history": turns(2)}, {"MAX_HISTORY_TURNS": "0"}, (),
                 "[400] history must have at most 0 turns", id="history-disabled-by-MAX_HISTORY_TURNS"),
    pytest.param({"text": "hi", "history": turns(2, 4001)}, {}, (),
                 "[400] history must have at most 8000 characters in total", id="history-too-many-characters"),
    # --- the model
    pytest.param({"text": "hi"}, {}, (Behaviour.fail(429),) * 2, "[429] the model is busy, please try again shortly",
                 id="model-throttled"),
    pytest.param({"text": "hi [[fail:429]]"}, {}, (), "[429] the model is busy, please try again shortly",
                 id="model-throttled-by-marker"),
    pytest.param({"text": "hi"}, {}, (Behaviour.fail(424),), "[502] the model failed to answer", id="model-error-424"),
    pytest.param({"text": "hi"}, {}, (Behaviour.fail(400),), "[502] the model rejected the request",
                 id="model-validation-error-400"),
    pytest.param({"text": "hi"}, {}, (Behaviour.fail(500),), "[502] the model service is unavailable",
                 id="model-internal-failure-500"),
    pytest.param({"text": "hi"}, {}, (Behaviour.fail(503),), "[502] the model service is unavailable",
                 id="model-unavailable-503"),
    pytest.param({"text": "hi"}, {}, (Behaviour.fail(403),), "[500] internal error", id="model-access-denied-403"),
    pytest.param({"text": "hi"}, {}, (Behaviour(endpoint_state="missing"),), NOT_RUNNING, id="endpoint-missing"),
    pytest.param({"text": "hi"}, {}, (Behaviour(endpoint_state="creating"),), NOT_RUNNING, id="endpoint-creating"),
    pytest.param({"text": "hi [[notfound]]"}, {}, (), NOT_RUNNING, id="endpoint-missing-by-marker"),
    pytest.param({"text": "hi [[creating]]"}, {}, (), NOT_RUNNING, id="endpoint-creating-by-marker"),
    pytest.param({"text": "hi"}, {}, (Behaviour.fail(400, message="Endpoint ep of account 1 is in Failed status."),),
                 NOT_RUNNING, id="endpoint-failed"),
    pytest.param({"text": "hi"}, {}, (Behaviour.fail(400, message="The endpoint ep status is OutOfService"),),
                 NOT_RUNNING, id="endpoint-out-of-service"),
    pytest.param({"text": "hi"}, {}, (Behaviour.fail(400, message="Endpoint ep is in Deleting state"),),
                 NOT_RUNNING, id="endpoint-deleting"),
    pytest.param({"text": "hi"}, {}, (Behaviour.fail(400, message="Endpoint ep is in Updating status"),),
                 "[502] the model rejected the request", id="endpoint-updating-is-no-503"),
    pytest.param({"text": "hi"}, {}, (Behaviour.fail(400, message="Received client error (400): bad input"),),
                 "[502] the model rejected the request", id="model-validation-error-other"),
    pytest.param({"text": "서울" * 700}, {}, (),
                 "[400] text is too long for the model: about 2800 tokens, at most 1024", id="text-too-long-for-the-model"),
    pytest.param({"text": "hi"}, {"MODEL_READ_TIMEOUT_SECONDS": "0.3"}, (Behaviour.slow(1000),),
                 "[504] the model did not answer in time", id="model-read-timeout"),
    pytest.param({"text": "hi"}, {}, (Behaviour.malformed(),), "[502] the model returned an unreadable answer",
                 id="model-malformed-json"),
    pytest.param({"text": "hi"}, {}, (Behaviour.reply(b"\xff\xfe not utf-8"),),
                 "[502] the model returned an unreadable answer", id="model-bad-utf8"),
    pytest.param({"text": "hi"}, {}, (Behaviour.empty(),), "[502] the model returned no text", id="model-empty-text"),
    pytest.param({"text": "hi"}, {}, (Behaviour.reply([{"generated_text": " \n</s> more"}]),),
                 "[502] the model returned no text", id="model-only-a-stop-sequence"),
    pytest.param({"text": "hi"}, {}, (Behaviour.reply({"outputs": "Paris"}),),
                 "[502] the model returned an unexpected answer", id="model-wrong-shape"),
    pytest.param({"text": "hi"}, {}, (Behaviour.reply([]),), "[502] the model returned an unexpected answer",
                 id="model-empty-list"),
    pytest.param({"text": "hi"}, {}, (Behaviour.reply([{"generated_text": ["Paris"]}]),),
                 "[502] the model returned an unexpected answer", id="model-generated-text-not-string"),
    # --- the configuration (checked at cold start; the model is never called)
    pytest.param({"text": "hi"}, {"endpoint": None}, (),
                 MISCONFIGURED + "endpoint must be set to the SageMaker endpoint name", id="env-endpoint-missing"),
    pytest.param({"text": "hi"}, {"endpoint": "  "}, (),
                 MISCONFIGURED + "endpoint must be set to the SageMaker endpoint name", id="env-endpoint-blank"),
    pytest.param({"text": "hi"}, {"TEMPERATURE": "0"}, (),
                 MISCONFIGURED + "TEMPERATURE must be a number > 0 and <= 100", id="env-temperature-zero"),
    pytest.param({"text": "hi"}, {"TOP_P": "1"}, (),
                 MISCONFIGURED + "TOP_P must be a number > 0 and < 1", id="env-top-p-one"),
    pytest.param({"text": "hi"}, {"MAX_NEW_TOKENS": "lots"}, (),
                 MISCONFIGURED + "MAX_NEW_TOKENS must be an integer from 1 to 8192", id="env-max-new-tokens-word"),
    pytest.param({"text": "hi"}, {"REPETITION_PENALTY": "nan"}, (),
                 MISCONFIGURED + "REPETITION_PENALTY must be a number > 0", id="env-repetition-penalty-nan"),
    pytest.param({"text": "hi"}, {"DO_SAMPLE": "yes"}, (),
                 MISCONFIGURED + 'DO_SAMPLE must be "true" or "false"', id="env-do-sample-yes"),
    pytest.param({"text": "hi"}, {"STOP_SEQUENCES": '["a", "b", "c", "d", "e"]'}, (),
                 MISCONFIGURED + "STOP_SEQUENCES must be a JSON list of at most 4 non-empty strings",
                 id="env-stop-sequences-five"),
    pytest.param({"text": "hi"}, {"STOP_SEQUENCES": "</s>"}, (),
                 MISCONFIGURED + "STOP_SEQUENCES must be a JSON list of at most 4 non-empty strings",
                 id="env-stop-sequences-not-json"),
    pytest.param({"text": "hi"}, {"MAX_NEW_TOKENS": "2048"}, (),
                 MISCONFIGURED + "MAX_NEW_TOKENS must be less than MODEL_MAX_TOTAL_TOKENS (2048)",
                 id="env-max-new-tokens-leaves-no-room"),
    pytest.param({"text": "hi"}, {"MODEL_MAX_INPUT_TOKENS": "4096", "MODEL_MAX_TOTAL_TOKENS": "4096"}, (),
                 MISCONFIGURED + "MODEL_MAX_INPUT_TOKENS must be less than MODEL_MAX_TOTAL_TOKENS (4096)",
                 id="env-max-input-tokens-not-below-total"),
    pytest.param({"text": "hi"}, {"MODEL_MAX_TOTAL_TOKENS": "lots"}, (),
                 MISCONFIGURED + "MODEL_MAX_TOTAL_TOKENS must be an integer >= 2", id="env-max-total-tokens-word"),
    pytest.param({"text": "hi"}, {"MODEL_MAX_ATTEMPTS": "0", "TOP_K": "0"}, (),
                 MISCONFIGURED + "TOP_K must be an integer >= 1; MODEL_MAX_ATTEMPTS must be an integer from 1 to 5",
                 id="env-two-invalid-values"),
]


@pytest.mark.parametrize(("event", "env", "behaviours", "expected"), ERROR_CASES)
def test_bad_input_or_failure_raises_exact_status_and_message(load_handler, model, context,
                                                              event, env, behaviours, expected):
    handler = load_handler(**env)
    model.queue(*behaviours)
    with pytest.raises(handler.ChatError) as raised:
        handler.lambda_handler(event, context)
    assert str(raised.value) == expected
    if expected.startswith(("[400]", MISCONFIGURED)) and "for the model" not in expected:
        assert model.requests == []  # rejected before the model is paid for


def test_every_error_message_selects_its_own_status_in_the_api_contract():
    mappings = json.loads(CONTRACT.read_text())["errors"]
    for case in ERROR_CASES:
        message = case.values[-1]
        status = int(message[1:4])
        # API Gateway: Java regex, full match on errorMessage; these patterns read the same in Python.
        selected = [m["statusCode"] for m in mappings if re.fullmatch(m["selectionPattern"], message)]
        assert selected == [status], message
        assert "\n" not in message


def test_curl_request_sends_the_seed_payload_as_json_and_answers_msg(handler, model, context, load_event,
                                                                      endpoint_name):
    result = handler.lambda_handler(load_event("basic"), context)

    assert result["msg"] == "Echo: What is the capital of France? (0 earlier turns)"
    [received] = model.requests
    assert received.path == f"/endpoints/{endpoint_name}/invocations"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["accept"] == "application/json"
    assert received.json() == {"inputs": "What is the capital of France?", "parameters": SEED_PARAMETERS}
    assert list(received.json()["parameters"]) == list(SEED_PARAMETERS)


def test_success_reports_elapsed_and_model_time(handler, model, context):
    model.default = Behaviour(delay_ms=50)
    result = handler.lambda_handler({"text": "hi"}, context)
    assert set(result) == {"msg", "elapsed_ms", "model_ms", "history_used", "history_limits"}
    assert 50 <= result["model_ms"] <= result["elapsed_ms"]
    # What the page may send from now on: the limits the function was given for its model.
    assert result["history_limits"] == {"turns": 10, "chars": 8000}


def test_token_counts_from_details_are_returned(handler, model, context):
    model.queue(Behaviour.reply({"generated_text": " Paris.", "details": {
        "finish_reason": "eos_token", "generated_tokens": 3, "seed": None}}))
    result = handler.lambda_handler({"text": "Capital of France?"}, context)
    assert result["msg"] == "Paris."
    assert result["generated_tokens"] == 3
    assert result["finish_reason"] == "eos_token"


def test_answer_keeps_its_first_and_last_characters(handler, model, context):
    model.queue(Behaviour.reply([{"generated_text": "Paris"}]))
    assert handler.lambda_handler({"text": "hi"}, context)["msg"] == "Paris"


def test_stop_sequence_and_everything_after_it_are_cut(handler, model, context):
    model.queue(Behaviour.reply([{"generated_text": "  Paris is the capital.<|endoftext|>User: and Rome?"}]))
    assert handler.lambda_handler({"text": "hi"}, context)["msg"] == "Paris is the capital."


def test_configured_stop_sequences_are_sent_and_cut(load_handler, model, context):
    handler = load_handler(STOP_SEQUENCES='["###", "\\nQ:"]')
    model.queue(Behaviour.reply([{"generated_text": "A: yes\nQ: really?"}]))
    assert handler.lambda_handler({"text": "hi"}, context)["msg"] == "A: yes"
    assert model.requests[0].json()["parameters"]["stop"] == ["###", "\nQ:"]


def test_follow_up_folds_history_into_falcon_turns(handler, model, context, load_event):
    result = handler.lambda_handler(load_event("follow_up"), context)

    assert model.requests[0].json()["inputs"] == (
        "User: What is the capital of France?\n"
        "Falcon: The capital of France is Paris.\n"
        "User: And what is its population?\n"
        "Falcon:"
    )
    assert result["msg"] == "Echo: And what is its population? (2 earlier turns)"


def test_follow_up_answer_is_cut_where_the_model_invents_the_next_user_turn(handler, model, context,
                                                                            load_event):
    model.queue(Behaviour.reply([{"generated_text": " About 2.1 million.\nUser: thanks\nFalcon: welcome"}]))
    assert handler.lambda_handler(load_event("follow_up"), context)["msg"] == "About 2.1 million."


def test_text_is_trimmed_and_unknown_fields_are_ignored(handler, model, context, load_event):
    result = handler.lambda_handler(load_event("extra_fields"), context)
    sent = model.requests[0].json()
    assert sent == {"inputs": "Tell me a joke.", "parameters": SEED_PARAMETERS}
    assert result["msg"] == "Echo: Tell me a joke. (0 earlier turns)"


def test_unicode_text_and_history_reach_the_model_and_come_back_unchanged(handler, model, context, load_event):
    body = load_event("unicode")
    result = handler.lambda_handler(body, context)
    assert model.requests[0].json()["inputs"].endswith(f"User: {body['text']}\nFalcon:")
    assert result["msg"] == f"Echo: {body['text']} (2 earlier turns)"


def test_multiline_text_is_sent_as_is(handler, model, context, load_event):
    body = load_event("multiline")
    result = handler.lambda_handler(body, context)
    assert model.requests[0].json()["inputs"] == body["text"]
    assert result["msg"] == f"Echo: {body['text']} (0 earlier turns)"


def test_html_and_script_text_pass_through_as_plain_data(handler, model, context, load_event):
    body = load_event("html")
    result = handler.lambda_handler(body, context)
    assert model.requests[0].json()["inputs"] == body["text"]
    assert result["msg"] == f"Echo: {body['text']} (0 earlier turns)"


def test_html_in_the_answer_is_returned_unescaped(handler, model, context):
    result = handler.lambda_handler({"text": "show me [[html]]"}, context)
    assert result["msg"].endswith("<script>alert(1)</script><b>bold</b>")


def test_text_at_exactly_the_limit_is_accepted(load_handler, model, context):
    handler = load_handler(MAX_TEXT_CHARS="5")
    assert handler.lambda_handler({"text": "  12345  "}, context)["msg"] == "Echo: 12345 (0 earlier turns)"


def test_history_at_exactly_the_limits_is_accepted(load_handler, model, context):
    # A model with room for it all, so only the request limits (10 turns, 8000 characters) apply.
    model.max_input_tokens, model.max_total_tokens = 16000, 17000
    handler = load_handler(MODEL_MAX_INPUT_TOKENS="16000", MODEL_MAX_TOTAL_TOKENS="17000")
    result = handler.lambda_handler({"text": "hi", "history": turns(10, 800)}, context)
    assert result["msg"] == "Echo: hi (10 earlier turns)"
    assert result["history_used"] == 10


def test_generation_parameters_come_from_the_environment(load_handler, model, context):
    handler = load_handler(MAX_NEW_TOKENS="64", TEMPERATURE="0.7", TOP_P="0.95", TOP_K="50",
                           REPETITION_PENALTY="1.2", DO_SAMPLE="TRUE", STOP_SEQUENCES='["</s>"]')
    handler.lambda_handler({"text": "hi"}, context)
    assert model.requests[0].json()["parameters"] == {
        "max_new_tokens": 64, "return_full_text": False, "do_sample": True, "temperature": 0.7,
        "repetition_penalty": 1.2, "top_p": 0.95, "top_k": 50, "stop": ["</s>"]}


def test_rest_function_needs_none_of_the_stream_settings(load_handler, context):
    handler = load_handler(CONNECTIONS_ENDPOINT=None, ALLOWED_ORIGINS=None, STREAM_BATCH_MS="not read here")
    assert handler.lambda_handler({"text": "hi"}, context)["msg"] == "Echo: hi (0 earlier turns)"
