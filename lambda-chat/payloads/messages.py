"""The `messages` payload style: TGI's OpenAI-style Messages API (Falcon 3).

    {"messages": [{"role": "system", "content": ...}, {"role": "user", ...},
                  {"role": "assistant", ...}, ..., {"role": "user", "content": <text>}],
     "max_tokens": ..., "temperature": ..., ["top_p", "stop", "presence_penalty"],
     ["stream": true, "stream_options": {"include_usage": true}]}

Facts from text-generation-inference v3.3.6, router/src/lib.rs (`ChatRequest`,
`try_into_generate`) and server.rs (`chat_completions`):
- there is no `top_k`, `repetition_penalty` or `do_sample`; unknown fields are ignored;
- greedy decoding only with `temperature: 0` (any other value, or none, samples);
- `presence_penalty` p is sent on as `repetition_penalty` p + 2;
- a `model` other than "tgi" is taken as an adapter id, so none is sent;
- answers are `{"choices": [{"message": {"content": ...}, "finish_reason": ...}], "usage": {...}}`;
  streamed, `chat.completion.chunk`s with `choices[0].delta.content`, then (when
  `stream_options.include_usage`) a chunk whose `choices` is empty with `usage`, then `[DONE]`.
The server applies the model's chat template; `render` is this module's stand-in of
Falcon 3's (`<|system|>\\n...\\n<|user|>\\n...\\n<|assistant|>\\n`, as llama.cpp implements
it), used only to estimate the prompt's tokens and to log it.
"""

import json
from typing import Any, Sequence

from core.contract import ChatRequest
from payloads.history import alternating, exchanges
from payloads.plan import PromptPlan
from payloads.tokens import estimate_tokens


def render(messages: Sequence[dict[str, str]]) -> str:
    """Falcon 3's chat template, as this module estimates it."""
    return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + "<|assistant|>\n"


def chat_parameters(parameters: dict[str, Any], repetition_penalty_set: bool) -> dict[str, Any]:
    """The generate parameters (settings) as the Messages API takes them."""
    chat: dict[str, Any] = {"max_tokens": parameters["max_new_tokens"]}
    if parameters["do_sample"]:
        chat.update(temperature=parameters["temperature"], top_p=parameters["top_p"])
    else:
        chat["temperature"] = 0  # TGI decodes greedily only at temperature 0
    if parameters["stop"]:
        chat["stop"] = list(parameters["stop"])
    if repetition_penalty_set:
        chat["presence_penalty"] = round(parameters["repetition_penalty"] - 2.0, 6)
    return chat


def plan(request: ChatRequest, system_prompt: str, family: str, budget: int, scale: float,
         max_turns: int | None) -> PromptPlan:
    """The messages with as many of the newest whole exchanges as fit `budget`."""
    head = [{"role": "system", "content": system_prompt}] if system_prompt else []
    question = [{"role": "user", "content": request.text}]
    spent = estimate_tokens(render([*head, *question]), family) * scale
    limit = len(request.history) if max_turns is None else max_turns
    pairs = exchanges(alternating(request.history))
    used = 0
    for user, assistant in reversed(pairs):
        cost = estimate_tokens(render([{"role": "user", "content": user.content},
                                       {"role": "assistant", "content": assistant.content}]),
                               family) * scale
        if 2 * (used + 1) > limit or spent + cost > budget:
            break
        spent += cost
        used += 1
    kept = [{"role": t.role, "content": t.content}
            for pair in pairs[len(pairs) - used:] for t in pair] if used else []
    messages = (*head, *kept, *question)
    prompt = render(messages)
    return PromptPlan(prompt, 2 * used, len(request.history) - 2 * used,
                      estimate_tokens(prompt, family), style="messages", messages=messages)


def body(plan: PromptPlan, chat: dict[str, Any], stream: bool) -> bytes:
    payload: dict[str, Any] = {"messages": list(plan.messages or ()), **chat}
    if stream:
        # Usage comes only when asked, in a last chunk whose `choices` is empty.
        payload.update(stream=True, stream_options={"include_usage": True})
    return json.dumps(payload).encode()


def answer_text(data: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(choices[0].message.content, details) of a chat completion; None if it is not one."""
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    if not isinstance(message, dict) or not isinstance(message.get("content"), str):
        return None
    details: dict[str, Any] = {}
    if isinstance(choices[0].get("finish_reason"), str):
        details["finish_reason"] = choices[0]["finish_reason"]
    usage = data.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        details["generated_tokens"] = usage["completion_tokens"]
    return message["content"], details


# TGI's InferError messages (router/src/infer/mod.rs): the in-stream error object of the
# Messages route carries only `message` and `http_status_code` (always 422), so the kind
# is read from the message's start, as the generate route's `error_type` would say.
_ERROR_KINDS = (("Input validation error", "validation"), ("Model is overloaded", "overloaded"),
                ("Request failed during generation", "generation"),
                ("Template error", "template_error"), ("Incomplete generation", "incomplete_generation"))


def error_kind(message: str) -> str:
    for start, kind in _ERROR_KINDS:
        if message.startswith(start):
            return kind
    return ""
