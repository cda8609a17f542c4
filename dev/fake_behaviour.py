"""What the fake SageMaker runtime does for one request: its Behaviour and the markers
that choose it (used by dev/fake_sagemaker.py; tests build Behaviours directly).

Markers in the last user message choose the behaviour of that one request (both calls
unless said otherwise):

    [[fail:429]]    429 ThrottlingException
    [[fail:424]]    424 ModelError (the model container failed)
    [[fail:400]]    400 ValidationError
    [[fail:500]]    500 InternalFailure      ([[fail:503]] ServiceUnavailable; other codes too)
    [[notfound]]    400 ValidationError: the endpoint does not exist
    [[creating]]    400 ValidationError: the endpoint is not in service (being created)
    [[slow:MS]]     wait MS milliseconds, then answer normally (a stream: before its headers)
    [[malformed]]   200 with a body that is not JSON (a stream: a data line that is not JSON)
    [[empty]]       200 [{"generated_text": ""}] (a stream: only the end-of-text token)
    [[html]]        the reply contains <script>alert(1)</script><b>bold</b>
    [[stop]]        the reply ends with "<|endoftext|>" and text after it, as TGI may send
                    (streamed, the stop sequence is split across tokens)
    [[long:N]]      the reply goes on for about N more tokens (a stream stops at max_new_tokens,
                    as TGI does; InvokeEndpoint returns it whole, as before)
    [[midfail]]     a stream: a ModelStreamError event after 3 tokens (InvokeEndpoint: 424)
    [[streamfail]]  a stream: an InternalStreamFailure event after 3 tokens (InvokeEndpoint: 500)
    [[tgierror]]    a stream: TGI's data:{"error":...,"error_type":"generation"} after 3
                    tokens (InvokeEndpoint: 424)
    [[stall:MS]]    a stream: nothing at all for MS ms after 3 tokens, then the rest
                    (InvokeEndpoint: like [[slow:MS]])
    [[split:N]]     a stream: PayloadParts of exactly N bytes (the last may be shorter)
"""

import json
import re
from dataclasses import dataclass, replace
from typing import Any

import fake_tgi

HTML_SNIPPET = "<script>alert(1)</script><b>bold</b>"
MARKER = re.compile(r"\[\[(fail|slow|stall|long|split):(\d+)\]\]"
                     r"|\[\[(malformed|empty|html|stop|notfound|creating|midfail|streamfail|tgierror)\]\]")

@dataclass(frozen=True)
class Behaviour:
    """How the fake answers one request. Build with the class methods or the fields."""

    status: int = 200
    delay_ms: int = 0
    body: bytes | None = None  # the raw non-streaming body; None means the reply below
    text: str | None = None  # the reply text (both calls) instead of the echo
    reply_suffix: str = ""  # appended to the echo reply
    error_message: str | None = None  # the message of a `status` error
    original: tuple[int, str] | None = None  # a ModelError's OriginalStatusCode and OriginalMessage
    endpoint_state: str | None = None  # overrides the fake's endpoint_state
    stream_fault: str | None = None  # "midfail", "streamfail", "tgierror", "stall" or "malformed"
    stall_ms: int = 0
    part_bytes: int | None = None  # PayloadPart size; None splits at random points
    extra_tokens: int = 0  # [[long:N]]

    @classmethod
    def fail(cls, status: int, delay_ms: int = 0, message: str | None = None) -> "Behaviour":
        return cls(status=status, delay_ms=delay_ms, error_message=message)

    @classmethod
    def slow(cls, delay_ms: int) -> "Behaviour":
        return cls(delay_ms=delay_ms)

    @classmethod
    def reply(cls, payload: Any, status: int = 200) -> "Behaviour":
        """Answers InvokeEndpoint with `payload` as JSON (or raw bytes/str) instead of the echo."""
        if isinstance(payload, str):
            return cls(status=status, body=payload.encode())
        if isinstance(payload, bytes):
            return cls(status=status, body=payload)
        return cls(status=status, body=json.dumps(payload).encode())

    @classmethod
    def answer(cls, text: str) -> "Behaviour":
        """Both calls answer `text` (streamed token by token) instead of the echo."""
        return cls(text=text)

    @classmethod
    def malformed(cls) -> "Behaviour":
        return cls(body=b'[{"generated_text": "Echo: cut off', stream_fault="malformed")

    @classmethod
    def empty(cls) -> "Behaviour":
        return cls(body=json.dumps([{"generated_text": ""}]).encode(), text="")


_FLAG_BEHAVIOURS = {
    "malformed": Behaviour.malformed(),
    "empty": Behaviour.empty(),
    "html": Behaviour(reply_suffix=" " + HTML_SNIPPET),
    "stop": Behaviour(reply_suffix="<|endoftext|>User: and more"),
    "notfound": Behaviour(endpoint_state="missing"),
    "creating": Behaviour(endpoint_state="creating"),
    "midfail": Behaviour(stream_fault="midfail"),
    "streamfail": Behaviour(stream_fault="streamfail"),
    "tgierror": Behaviour(stream_fault="tgierror"),
}


def behaviour_for(message: str, default: Behaviour) -> Behaviour:
    """The behaviour that the markers in the message ask for (else `default`)."""
    behaviour = default
    for m in MARKER.finditer(message):
        kind, number, flag = m.groups()
        value = int(number) if number else 0
        if kind == "fail" and 400 <= value <= 599:
            behaviour = replace(behaviour, status=value)
        elif kind == "slow" and value <= 600_000:
            behaviour = replace(behaviour, delay_ms=value)
        elif kind == "stall" and value <= 600_000:
            behaviour = replace(behaviour, stream_fault="stall", stall_ms=value)
        elif kind == "long" and value <= 100_000:
            behaviour = replace(behaviour, extra_tokens=value)
        elif kind == "split" and value >= 1:
            behaviour = replace(behaviour, part_bytes=value)
        elif flag:
            behaviour = replace(_FLAG_BEHAVIOURS[flag], delay_ms=behaviour.delay_ms,
                                part_bytes=behaviour.part_bytes, extra_tokens=behaviour.extra_tokens)
    return behaviour


def reply_text(message: str, earlier: int, behaviour: Behaviour) -> str:
    if behaviour.text is not None:
        return behaviour.text
    return fake_tgi.echo_text(message, earlier, behaviour.reply_suffix, behaviour.extra_tokens)
