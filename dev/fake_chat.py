"""What the fake model says on TGI's Messages API (a `messages` body), as TGI 3.3.6 would.

Shapes (text-generation-inference v3.3.6, router/src/lib.rs, chat.rs, server.rs, infer/mod.rs):
- answer: `{"object": "chat.completion", "id": "", "created", "model", "system_fingerprint",
  "choices": [{"index": 0, "message": {"role": "assistant", "content": ...},
  "logprobs": null, "finish_reason": "stop"|"length"}], "usage": {"prompt_tokens",
  "completion_tokens", "total_tokens"}}`;
- stream: one `data:{"object": "chat.completion.chunk", ..., "choices": [{"index": 0,
  "delta": {"role": "assistant", "content": piece}, "logprobs": null, "finish_reason":
  null}], "usage": null}` per token, the last with its finish_reason; then, only when the
  request says `"stream_options": {"include_usage": true}`, a chunk whose `choices` is
  empty and whose `usage` is set; then `data:[DONE]`;
- errors inside a stream: `data:{"error": {"message": ..., "http_status_code": 422}}`
  (no error_type, whatever the error), then `data:[DONE]`; a request the template cannot
  render is refused before any stream: HTTP 422 `{"error": "Template error: ...",
  "error_type": "template_error"}` (SageMaker relays it as a 424 ModelError).
- greedy decoding only at `temperature: 0`; the request has no top_k, repetition_penalty
  or do_sample (unknown fields are ignored); `model` other than "tgi" names an adapter.

The chat template is a documented stand-in of Falcon 3's (`<|system|>\\n...\\n<|user|>\\n
...\\n<|assistant|>\\n`, as llama.cpp implements it), stricter than the real one: it also
refuses turns that do not alternate user/assistant after an optional system turn, as the
2023 Falcon's Hub template (and many others) do. `None` stands for a model without a chat
template (JumpStart's 2023 Falcon 7B artifacts), which TGI answers with "template not found".
"""

import json
import time
from typing import Any, Iterator

import fake_tgi

FINGERPRINT = "3.3.6-sha-fake"


class TemplateError(ValueError):
    """TGI's `InferError::TemplateError`: its message, as TGI formats it."""


def render(messages: Any, template: str | None) -> str:
    """The prompt the template makes of `messages`; raises TemplateError as TGI would."""
    if template is None:
        raise TemplateError("Template error: template not found")
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str)
            and m.get("role") in ("system", "user", "assistant") for m in messages):
        raise TemplateError("Template error: messages must be a non-empty list of {role, content} objects")
    turns = messages[1:] if messages[0]["role"] == "system" else messages
    for i, m in enumerate(turns):
        if m["role"] != ("user" if i % 2 == 0 else "assistant"):
            raise TemplateError("Template error: Conversation roles must alternate "
                                "user/assistant/user/assistant/... (in <string>:1)")
    if turns and turns[-1]["role"] != "user":
        raise TemplateError("Template error: the last turn must be the user's (in <string>:1)")
    return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + "<|assistant|>\n"


def last_user_message(messages: list[dict[str, str]]) -> tuple[str, int]:
    """(the last user message, the number of user/assistant turns before it)."""
    turns = [m for m in messages if m["role"] != "system"]
    return turns[-1]["content"].strip(), len(turns) - 1


def parameter_error(request: dict[str, Any]) -> str | None:
    """TGI's validation message for parameters this fake checks, else None."""
    temperature = request.get("temperature")
    if temperature is not None and (not isinstance(temperature, (int, float)) or temperature < 0):
        return "Input validation error: `temperature` must be strictly positive"
    top_p = request.get("top_p")
    if top_p is not None and not (isinstance(top_p, (int, float)) and 0 < top_p < 1):
        return "Input validation error: `top_p` must be > 0.0 and < 1.0"
    stop = request.get("stop")
    if stop is not None and (not isinstance(stop, list) or len(stop) > 4):
        return f"Input validation error: `stop` supports up to 4 stop sequences. Given: {len(stop) if isinstance(stop, list) else 1}"
    if request.get("model") not in (None, "tgi"):
        return f"Input validation error: adapter {request['model']} is not loaded"  # stand-in wording
    return None


def _pieces(text: str, max_tokens: int | None) -> tuple[list[str], str]:
    pieces = fake_tgi.fake_tokens(text)
    if max_tokens is not None and len(pieces) + 1 > max_tokens:  # +1: the end token
        return pieces[:max_tokens], "length"
    return pieces, "stop"


def completion(text: str, prompt: str, max_tokens: int | None, model_id: str) -> dict[str, Any]:
    pieces, finish = _pieces(text, max_tokens)
    generated = len(pieces) + (1 if finish == "stop" else 0)
    prompt_tokens = fake_tgi.count_tokens(prompt)
    return {"object": "chat.completion", "id": "", "created": int(time.time()), "model": model_id,
            "system_fingerprint": FINGERPRINT,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(pieces)},
                         "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": generated,
                      "total_tokens": prompt_tokens + generated}}


def _chunk(model_id: str, content: str | None, finish: str | None, usage: dict[str, int] | None = None,
           choices: bool = True) -> bytes:
    event: dict[str, Any] = {"object": "chat.completion.chunk", "id": "", "created": int(time.time()),
                             "model": model_id, "system_fingerprint": FINGERPRINT, "choices": [],
                             "usage": usage}
    if choices:
        event["choices"] = [{"index": 0, "delta": {"role": "assistant", "content": content},
                             "logprobs": None, "finish_reason": finish}]
    return fake_tgi.sse(event)


DONE = b"data:[DONE]\n\n"


def error_event(message: str) -> bytes:
    return fake_tgi.sse({"error": {"message": message, "http_status_code": 422}})


def stream(text: str, prompt: str, request: dict[str, Any], too_long: str | None, pace: fake_tgi.Pace,
           fault: fake_tgi.Fault, progress: Any, model_id: str) -> Iterator[bytes | float | str]:
    """What TGI streams on the Messages route, in the same items as fake_tgi.stream."""
    yield fake_tgi.KEEP_ALIVE
    if pace.first_token_ms:
        yield pace.first_token_ms / 1000
    if too_long:  # validation happens inside the HTTP 200 stream
        yield error_event(too_long)
        yield DONE
        return
    pieces, finish = _pieces(text, request.get("max_tokens"))
    # The end token ends an answer that stopped by itself; its text is not shown.
    events: list[tuple[str, str | None]] = [(p, None) for p in pieces]
    if finish == "length" and events:
        events[-1] = (events[-1][0], "length")
    else:
        events.append(("", "stop"))
    progress.tokens_total = len(events)
    pause = 1 / pace.tokens_per_second if pace.tokens_per_second else 0.0
    for n, (piece, reason) in enumerate(events):
        if n and pause:
            yield pause
        if n == fake_tgi.FAULT_AFTER_TOKENS and fault.kind in ("midfail", "streamfail"):
            yield fault.kind
            return
        if n == fake_tgi.FAULT_AFTER_TOKENS and fault.kind == "tgierror":
            yield error_event("Request failed during generation: Server error: fake")
            yield DONE
            return
        if n == fake_tgi.FAULT_AFTER_TOKENS and fault.kind == "stall":
            yield fault.stall_ms / 1000
        if n == 1 and fault.kind == "malformed":
            yield b'data:{"object":"chat.completion.chunk","choices":[{"delta":{"content":"cut\n\n'
            return
        if n and n % fake_tgi.KEEP_ALIVE_EVERY == 0:
            yield fake_tgi.KEEP_ALIVE
        yield _chunk(model_id, piece, reason)
        progress.tokens_sent = n + 1
    options = request.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        prompt_tokens = fake_tgi.count_tokens(prompt)
        yield _chunk(model_id, None, None, {"prompt_tokens": prompt_tokens, "completion_tokens": len(events),
                                            "total_tokens": prompt_tokens + len(events)}, choices=False)
    yield DONE


def error_body(message: str) -> str:
    """TGI's HTTP error body for a refused chat request."""
    kind = "template_error" if message.startswith("Template error") else "validation"
    return json.dumps({"error": message, "error_type": kind}, separators=(",", ":"))
