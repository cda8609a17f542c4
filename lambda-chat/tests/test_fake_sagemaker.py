"""The fake SageMaker runtime itself: its markers, its wire format and its command line.

The dev server and the browser tests rely on these, so they are pinned here too.
"""

import http.client
import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import fake_sagemaker
from fake_sagemaker import Behaviour, FakeSageMaker

SCRIPT = Path(fake_sagemaker.__file__)


def post(fake: FakeSageMaker, inputs: Any, path: str = "/endpoints/ep/invocations") -> tuple[int, dict, bytes]:
    host, port = fake.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", path, json.dumps({"inputs": inputs}),
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


def test_every_marker_is_documented_in_the_module_docstring():
    documented = set(re.findall(r"\[\[[a-z]+(?::[A-Z0-9]+)?\]\]", fake_sagemaker.__doc__ or ""))
    assert {"[[fail:429]]", "[[fail:424]]", "[[fail:500]]", "[[slow:MS]]", "[[malformed]]",
            "[[empty]]", "[[html]]", "[[stop]]"} <= documented


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
