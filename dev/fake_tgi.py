"""What the fake model's container says, as Hugging Face TGI would: used by fake_sagemaker.py.

- A stand-in tokenizer (`fake_tokens`), deliberately simpler than Falcon's and not the
  handler's estimator, so tests show that estimator is conservative: a run of ASCII
  letters is ceil(len/4) tokens, a run of digits ceil(len/3), every other ASCII symbol
  1, ASCII whitespace 0 (it joins the next token), and a non-ASCII character its UTF-8
  length minus 1 (Korean and CJK 2, emoji 3, accented Latin 1).
- TGI's input validation (router/src/validation.rs, checked in this order): prompt
  tokens + max_new_tokens <= max_total_tokens, then prompt tokens <= max_input_tokens,
  with TGI's own messages.
- TGI's streaming events (`generate_stream`): one `data:{...}\\n\\n` server-sent event per
  token, `{"index", "token": {"id", "text", "logprob", "special"}, "generated_text": null,
  "details": null, "top_tokens": null}`; the last carries `generated_text` (the whole
  text) and, only when the request's parameters say `"details": true` (as TGI does),
  `details` (`finish_reason`, `generated_tokens`, `seed`, `input_length`).
  An answer that ends by itself ends with the special end-of-text token, whose text
  `generated_text` leaves out; one cut by max_new_tokens ends with finish_reason "length".
  Errors are `data:{"error": ..., "error_type": ...}`; keep-alives are `:\\n\\n`.
"""

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterator

FAULT_AFTER_TOKENS = 3  # mid-stream faults strike after this many tokens
KEEP_ALIVE_EVERY = 10  # tokens between keep-alive lines (one is also sent first)
EOS_TEXT = "<|endoftext|>"
EOS_ID = 11  # Falcon's <|endoftext|>
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"
_LONG_WORDS = ("the", "cat", "sat", "on", "a", "mat", "and", "then", "ran", "far", "away", "from",
               "our", "big", "red", "dog", "who", "was", "very", "calm")


_TURN = re.compile(r"^(User|Falcon):", re.MULTILINE)


def last_user_message(prompt: str) -> tuple[str, int]:
    """(the last user message, the number of earlier User/Falcon turns) of a prompt."""
    starts = [m.start() for m in _TURN.finditer(prompt)]
    if len(starts) < 2 or not prompt.rstrip().endswith("Falcon:"):
        return prompt.strip(), 0  # a plain prompt: the text alone
    # The last two labels are the new "User: <text>" and the empty "Falcon:".
    user = prompt[starts[-2]:starts[-1]]
    return user[len("User:"):].strip(), len(starts) - 2


def echo_text(message: str, earlier: int, suffix: str = "", extra_tokens: int = 0) -> str:
    """The fake model's answer: it repeats the user's last message."""
    turns = "turn" if earlier == 1 else "turns"
    text = f" Echo: {message} ({earlier} earlier {turns}){suffix}"
    return text + " " + long_text(extra_tokens) if extra_tokens else text


def fake_tokens(text: str) -> list[str]:
    """The stand-in tokenizer's pieces of `text` (they join back to `text`)."""
    pieces: list[str] = []
    lead = ""  # whitespace waiting for the next token
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _ASCII_WHITESPACE:
            lead += ch
            i += 1
            continue
        j = i + 1
        if ch.isascii() and (ch.isalpha() or ch.isdigit()):
            same = str.isalpha if ch.isalpha() else str.isdigit
            while j < n and text[j].isascii() and same(text[j]):
                j += 1
            size = 4 if ch.isalpha() else 3
            group = [text[k:min(k + size, j)] for k in range(i, j, size)]
        elif ch.isascii():
            group = [ch]
        else:  # a multi-byte character: the empty pieces stand for its partial bytes
            group = [""] * (len(ch.encode("utf-8", "surrogatepass")) - 2) + [ch]
        group[0] = lead + group[0]
        lead = ""
        pieces += group
        i = j
    if lead:
        if pieces:
            pieces[-1] += lead
        else:
            pieces.append(lead)
    return pieces


def count_tokens(text: str) -> int:
    return len(fake_tokens(text))


def too_long_message(prompt: str, max_new_tokens: int | None, max_input_tokens: int,
                     max_total_tokens: int) -> str | None:
    """TGI's validation error for a prompt that does not fit, else None."""
    tokens = count_tokens(prompt)
    if max_new_tokens is not None and tokens + max_new_tokens > max_total_tokens:
        return (f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= "
                f"{max_total_tokens}. Given: {tokens} `inputs` tokens and {max_new_tokens} "
                "`max_new_tokens`")
    if tokens > max_input_tokens:
        return (f"Input validation error: `inputs` must have less than {max_input_tokens} tokens. "
                f"Given: {tokens}")
    return None


def error_body(message: str, error_type: str) -> str:
    """TGI's error JSON, as its HTTP body or in a stream event."""
    return json.dumps({"error": message, "error_type": error_type}, separators=(",", ":"))


def long_text(tokens: int) -> str:
    """About `tokens` tokens of plain words (each word is one token)."""
    return " ".join(_LONG_WORDS[i % len(_LONG_WORDS)] for i in range(tokens)) + "."


def sse(data: object) -> bytes:
    return b"data:" + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


KEEP_ALIVE = b":\n\n"


def token_events(text: str, max_new_tokens: int | None, input_length: int,
                 end_with_eos: bool = True, details: bool = False) -> Iterator[bytes]:
    """The server-sent events TGI streams for an answer `text` (each one `data:{...}\\n\\n`)."""
    pieces = fake_tokens(text)
    limit = max_new_tokens if max_new_tokens is not None else math.inf
    cut = len(pieces) + (1 if end_with_eos else 0) > limit
    if cut:
        pieces = pieces[:int(limit)]
    tokens = [(p, False) for p in pieces] + ([] if cut or not end_with_eos else [(EOS_TEXT, True)])
    for index, (piece, special) in enumerate(tokens, start=1):
        event: dict[str, object] = {
            "index": index,
            "token": {"id": EOS_ID if special else 100 + sum(piece.encode()) % 60000,
                      "text": piece, "logprob": -0.25, "special": special},
            "generated_text": None, "details": None, "top_tokens": None}
        if index == len(tokens):
            event["generated_text"] = "".join(p for p, s in tokens if not s)
        if index == len(tokens) and details:
            event["details"] = {"finish_reason": "length" if cut else "eos_token",
                                "generated_tokens": len(tokens), "seed": None,
                                "input_length": input_length}
        yield sse(event)


@dataclass(frozen=True)
class Pace:
    first_token_ms: float  # wait before the first token
    tokens_per_second: float  # 0: no wait between tokens


@dataclass(frozen=True)
class Fault:
    kind: str | None  # "midfail", "streamfail", "tgierror", "stall", "malformed" or None
    stall_ms: int = 0


def generation_seconds(text: str, prompt: str, max_new_tokens: int | None, pace: Pace) -> float:
    """How long `stream` takes to send this answer: the first-token wait, then one pause
    between tokens. A real model takes as long to answer InvokeEndpoint as to stream the same
    answer (it generates the same tokens), so the fake's non-streaming answer waits this too."""
    events = list(token_events(text, max_new_tokens, count_tokens(prompt)))
    pause = 1 / pace.tokens_per_second if pace.tokens_per_second else 0.0
    return pace.first_token_ms / 1000 + max(len(events) - 1, 0) * pause


def stream(text: str, prompt: str, max_new_tokens: int | None, too_long: str | None, pace: Pace,
           fault: Fault, progress: Any, details: bool = False) -> Iterator[bytes | float | str]:
    """What TGI streams, in order: bytes to send (SSE events, keep-alives), pauses (float
    seconds), or the name of a SageMaker fault ("midfail", "streamfail") that ends the
    stream there. Sets `progress.tokens_total` and `progress.tokens_sent` as it goes."""
    yield KEEP_ALIVE
    if pace.first_token_ms:
        yield pace.first_token_ms / 1000
    if too_long:  # TGI validates inside its event stream: HTTP 200, then the error event
        yield sse({"error": too_long, "error_type": "validation"})
        return
    events = list(token_events(text, max_new_tokens, count_tokens(prompt), details=details))
    progress.tokens_total = len(events)
    pause = 1 / pace.tokens_per_second if pace.tokens_per_second else 0.0
    for n, event in enumerate(events):
        if n and pause:
            yield pause
        if n == FAULT_AFTER_TOKENS and fault.kind in ("midfail", "streamfail"):
            yield fault.kind
            return
        if n == FAULT_AFTER_TOKENS and fault.kind == "tgierror":
            yield sse({"error": "Request failed during generation: Server error: fake",
                       "error_type": "generation"})
            return
        if n == FAULT_AFTER_TOKENS and fault.kind == "stall":
            yield fault.stall_ms / 1000
        if n == 1 and fault.kind == "malformed":
            yield b'data:{"index":2,"token":{"text":"cut\n\n'
            return
        if n and n % KEEP_ALIVE_EVERY == 0:
            yield KEEP_ALIVE
        yield event
        progress.tokens_sent = n + 1
