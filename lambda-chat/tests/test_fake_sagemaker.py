"""The fake SageMaker runtime itself: its markers, its wire format and its command line.

The dev server and the browser tests rely on these, so they are pinned here too.
"""

import http.client
import json
import re
import signal
import subprocess
import time
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer

import fake_behaviour
import fake_sagemaker
import fake_tgi
from fake_sagemaker import Behaviour, FakeSageMaker

SCRIPT = Path(fake_sagemaker.__file__)


def post(fake: FakeSageMaker, inputs: Any, path: str = "/endpoints/ep/invocations",
         **extra: Any) -> tuple[int, dict, bytes]:
    host, port = fake.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", path, json.dumps({"inputs": inputs, **extra}),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def generated_text(body: bytes) -> str:
    return json.loads(body)[0]["generated_text"]


def test_echo_names_the_last_user_message_and_the_earlier_turns(model):
    prompt = "User: one\nFalcon: uno\nUser: two\nFalcon: dos\nUser: three\nwith a second line\nFalcon:"
    status, headers, body = post(model, prompt)
    assert status == 200 and headers["content-type"] == "application/json"
    assert generated_text(body) == " Echo: three\nwith a second line (4 earlier turns)"
    assert float(headers["x-fake-model-ms"]) >= 0


def test_plain_prompt_is_echoed_whole(model):
    assert generated_text(post(model, "hello there")[2]) == " Echo: hello there (0 earlier turns)"


@pytest.mark.parametrize(("marker", "status", "error_type"), [
    ("[[fail:429]]", 429, "ThrottlingException"),
    ("[[fail:424]]", 424, "ModelError"),
    ("[[fail:400]]", 400, "ValidationError"),
    ("[[fail:500]]", 500, "InternalFailure"),
    ("[[fail:503]]", 503, "ServiceUnavailable"),
])
def test_fail_marker_answers_the_error_shape_botocore_parses(model, marker, status, error_type):
    got_status, headers, body = post(model, f"hi {marker}")
    assert got_status == status
    assert headers["x-amzn-errortype"].split(":")[0] == error_type
    assert json.loads(body)["__type"] == error_type


def test_markers_in_earlier_turns_do_not_apply(model):
    status, _, body = post(model, "User: hi [[fail:429]]\nFalcon: busy\nUser: again\nFalcon:")
    assert status == 200 and generated_text(body) == " Echo: again (2 earlier turns)"


def test_slow_marker_delays_the_answer(model):
    _, headers, _ = post(model, "[[slow:200]] hi")
    assert float(headers["x-fake-model-ms"]) >= 200


def test_malformed_empty_html_and_stop_markers(model):
    with pytest.raises(ValueError):
        json.loads(post(model, "[[malformed]]")[2])
    assert generated_text(post(model, "[[empty]]")[2]) == ""
    assert generated_text(post(model, "[[html]]")[2]).endswith(" <script>alert(1)</script><b>bold</b>")
    assert "<|endoftext|>User:" in generated_text(post(model, "[[stop]]")[2])


def test_every_marker_is_documented_in_the_behaviour_docstring():
    documented = set(re.findall(r"\[\[[a-z]+(?::[A-Z0-9]+)?\]\]", fake_behaviour.__doc__ or ""))
    assert {"[[fail:429]]", "[[fail:424]]", "[[fail:500]]", "[[slow:MS]]", "[[malformed]]",
            "[[empty]]", "[[html]]", "[[stop]]", "[[notfound]]", "[[creating]]", "[[long:N]]",
            "[[midfail]]", "[[streamfail]]", "[[tgierror]]", "[[stall:MS]]", "[[split:N]]"} <= documented
    recognised = set(re.findall(r"[a-z]{2,}", fake_behaviour.MARKER.pattern))
    assert recognised == {m[2:].split(":")[0].rstrip("]") for m in documented}


def test_queued_behaviours_apply_in_order_then_the_default(model):
    model.queue(Behaviour.fail(424), Behaviour.reply([{"generated_text": "fixed"}]))
    assert [post(model, "x")[0] for _ in range(3)] == [424, 200, 200]
    assert generated_text(post(model, "x")[2]) == " Echo: x (0 earlier turns)"


def test_requests_are_recorded_with_path_headers_and_body(model):
    post(model, "hi")
    [received] = model.requests
    assert received.path == "/endpoints/ep/invocations" and received.endpoint == "ep"
    assert received.headers["content-type"] == "application/json"
    assert received.json() == {"inputs": "hi"}
    assert received.status == 200


def test_unknown_path_is_404(model):
    assert post(model, "hi", path="/ping")[0] == 404


def test_command_line_prints_its_url_serves_and_stops_on_sigterm():
    process = subprocess.Popen([sys.executable, str(SCRIPT), "--port", "0", "--delay-ms", "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        found = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert found, line
        host, port = found[1].removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("POST", "/endpoints/ep/invocations", json.dumps({"inputs": "hi"}))
        assert connection.getresponse().status == 200
        connection.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


# ------------------------------------------------------------------ the stand-in tokenizer and TGI's limits

@pytest.mark.parametrize(("text", "count"), [
    ("abcd", 1), ("abcde", 2), ("123", 1), ("1234", 2), ("a, b!", 4), ("  \n\t", 1),
    ("서울", 4), ("é", 1), ("😀", 3), (" Echo: hi (0 earlier turns)", 10),
])
def test_stand_in_tokenizer_counts_by_its_documented_rules(text, count):
    assert fake_tgi.count_tokens(text) == count
    assert "".join(fake_tgi.fake_tokens(text)) == text


def test_prompt_over_the_input_limit_gets_sagemakers_relay_of_tgis_422(model):
    model.max_input_tokens = 10
    status, headers, body = post(model, "one two three four five six seven eight nine ten eleven",
                                 parameters={"max_new_tokens": 20})
    error = json.loads(body)
    assert (status, headers["x-amzn-errortype"].split(":")[0]) == (424, "ModelError")
    assert error["OriginalStatusCode"] == 422
    assert json.loads(error["OriginalMessage"]) == {
        "error": "Input validation error: `inputs` must have less than 10 tokens. Given: 15",
        "error_type": "validation"}
    assert error["message"].startswith('Received client error (422) from primary with message "{')


def test_prompt_and_new_tokens_over_the_total_limit_is_checked_first(model):
    model.max_input_tokens, model.max_total_tokens = 10, 30
    _, _, body = post(model, "one two three four five six seven eight nine ten eleven",
                      parameters={"max_new_tokens": 20})
    assert json.loads(json.loads(body)["OriginalMessage"])["error"] == (
        "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 30. "
        "Given: 15 `inputs` tokens and 20 `max_new_tokens`")


@pytest.mark.parametrize(("how", "message"), [
    ({"endpoint_state": "missing"}, "Endpoint ep of account 000000000000 not found."),
    ({"endpoint_state": "creating"}, "Endpoint ep of account 000000000000 is not in service: its status is Creating."),
    ({"marker": "[[notfound]]"}, "Endpoint ep of account 000000000000 not found."),
    ({"marker": "[[creating]]"}, "Endpoint ep of account 000000000000 is not in service: its status is Creating."),
])
def test_endpoint_not_in_service_answers_sagemakers_validation_error(model, how, message):
    model.endpoint_state = how.get("endpoint_state", "in-service")
    for path in ("/endpoints/ep/invocations", "/endpoints/ep/invocations-response-stream"):
        status, headers, body = post(model, f"hi {how.get('marker', '')}", path=path)
        assert (status, headers["x-amzn-errortype"].split(":")[0]) == (400, "ValidationError")
        assert json.loads(body) == {"__type": "ValidationError", "message": message}


# ------------------------------------------------------------------ InvokeEndpointWithResponseStream

STREAM = "/endpoints/ep/invocations-response-stream"


def stream_messages(fake: FakeSageMaker, inputs: str, **extra: Any) -> tuple[dict, list[Any]]:
    """(response headers, event-stream messages) read with botocore's own parser."""
    status, headers, body = post(fake, inputs, path=STREAM, stream=True, **extra)
    assert status == 200
    buffer = EventStreamBuffer()
    buffer.add_data(body)
    return headers, list(buffer)


def sse_events(messages: list[Any]) -> list[bytes]:
    data = b"".join(m.payload for m in messages if m.headers[":message-type"] == "event")
    return [e + b"\n\n" for e in data.split(b"\n\n") if e]


def test_stream_answers_an_event_stream_of_payload_parts(model):
    headers, messages = stream_messages(model, "hi")
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert headers["x-amzn-sagemaker-content-type"] == "text/event-stream"
    assert headers["transfer-encoding"] == "chunked"
    assert {(m.headers[":message-type"], m.headers[":event-type"], m.headers[":content-type"])
            for m in messages} == {("event", "PayloadPart", "application/octet-stream")}


def test_stream_carries_tgis_token_events_for_the_echo(model):
    _, messages = stream_messages(model, "hi there", parameters={"details": True})
    events = [json.loads(e[len(b"data:"):]) for e in sse_events(messages) if e.startswith(b"data:")]
    *tokens, last = events
    assert [e["index"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["generated_text"] is None and e["details"] is None and not e["token"]["special"] for e in tokens)
    assert "".join(e["token"]["text"] for e in tokens) == " Echo: hi there (0 earlier turns)"
    assert last["token"] == {"id": 11, "text": "<|endoftext|>", "logprob": -0.25, "special": True}
    assert last["generated_text"] == " Echo: hi there (0 earlier turns)"
    assert last["details"] == {"finish_reason": "eos_token", "generated_tokens": len(events), "seed": None,
                               "input_length": 3}  # "hi" 1, "there" 2



def test_stream_ends_without_details_unless_the_request_asks_for_them(model):
    _, messages = stream_messages(model, "hi there")
    last = json.loads(sse_events(messages)[-1][len(b"data:"):])
    assert last["generated_text"] == " Echo: hi there (0 earlier turns)" and last["details"] is None

def test_stream_sends_keep_alive_lines_now_and_then(model):
    _, messages = stream_messages(model, "hi [[long:25]]")
    events = sse_events(messages)
    tokens = len(events) - events.count(b":\n\n")
    assert tokens > 30
    assert events.count(b":\n\n") == 1 + (tokens - 1) // 10  # first, then after every 10 tokens
    assert events[0] == b":\n\n"


def test_stream_is_cut_at_max_new_tokens(model):
    _, messages = stream_messages(model, "hi [[long:100]]", parameters={"max_new_tokens": 5, "details": True})
    last = json.loads(sse_events(messages)[-1][len(b"data:"):])
    assert last["details"]["finish_reason"] == "length" and last["details"]["generated_tokens"] == 5


def test_split_marker_cuts_payload_parts_to_exactly_n_bytes(model):
    _, messages = stream_messages(model, "서울 [[split:5]]")
    sizes = [len(m.payload) for m in messages]
    assert set(sizes[:-1]) == {5} and 1 <= sizes[-1] <= 5


def test_payload_parts_are_split_mid_line_by_default(model):
    _, messages = stream_messages(model, "a longer answer to split in places")
    assert any(not m.payload.endswith(b"\n\n") for m in messages)


@pytest.mark.parametrize(("marker", "exception"), [("[[midfail]]", "ModelStreamError"),
                                                     ("[[streamfail]]", "InternalStreamFailure")])
def test_stream_fault_markers_end_with_sagemakers_exception_event(model, marker, exception):
    _, messages = stream_messages(model, f"one two three four {marker}")
    last = messages[-1]
    assert last.headers[":message-type"] == "exception" and last.headers[":exception-type"] == exception
    assert "Message" in json.loads(last.payload)
    assert len([e for e in sse_events(messages[:-1]) if e.startswith(b"data:")]) == 3


def test_tgierror_marker_ends_with_tgis_error_line(model):
    _, messages = stream_messages(model, "one two three four [[tgierror]]")
    events = [e for e in sse_events(messages) if e.startswith(b"data:")]
    assert len(events) == 4
    assert json.loads(events[-1][len(b"data:"):])["error_type"] == "generation"


def test_prompt_too_long_in_a_stream_is_tgis_validation_event(model):
    model.max_input_tokens = 3
    _, messages = stream_messages(model, "one two three four")  # 5 tokens: "three" is 2
    assert sse_events(messages) == [b":\n\n", b'data:{"error":"Input validation error: `inputs` must have '
                                    b'less than 3 tokens. Given: 5","error_type":"validation"}\n\n']


def test_stream_paces_tokens_like_a_model():
    class Progress:
        tokens_total = tokens_sent = 0

    items = list(fake_tgi.stream(" one two", "hi", None, None, fake_tgi.Pace(300, 30), fake_tgi.Fault(None),
                                 Progress()))
    assert [i for i in items if isinstance(i, float)] == [0.3, 1 / 30, 1 / 30]  # 3 tokens: " one", " two", end


def test_command_line_sets_the_endpoint_state_and_limits():
    process = subprocess.Popen([sys.executable, str(SCRIPT), "--port", "0", "--endpoint-state", "missing",
                                "--max-input-tokens", "5", "--max-total-tokens", "50", "--first-token-ms", "0",
                                "--tokens-per-second", "0"], stdout=subprocess.PIPE, text=True)
    try:
        url = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", process.stdout.readline())[1]
        host, port = url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("POST", "/endpoints/ep/invocations", json.dumps({"inputs": "hi"}))
        response = connection.getresponse()
        assert response.status == 400 and b"not found" in response.read()
        connection.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        process.stdout.close()


def test_non_streaming_answer_takes_as_long_as_its_stream_would(model):
    # A real model generates the same tokens either way; the fake paces both alike.
    model.first_token_ms, model.tokens_per_second = 100, 50
    tokens = len(list(fake_tgi.token_events(generated_text(post(model, "one two three four")[2]), None, 4)))
    model.clear()
    started = time.perf_counter()
    _, _, body = post(model, "one two three four")
    waited = time.perf_counter() - started
    expected = fake_tgi.generation_seconds(generated_text(body), "one two three four", None,
                                           fake_tgi.Pace(100, 50))
    assert expected == pytest.approx(0.1 + (tokens - 1) / 50)
    assert expected <= waited < expected + 1.0
    streamed_started = time.perf_counter()
    post(model, "one two three four", path=STREAM, stream=True)
    assert time.perf_counter() - streamed_started == pytest.approx(waited, abs=0.5)
