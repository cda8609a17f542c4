"""The `inputs` payload style: the seed's TGI generate body, with a prompt formatted here.

    {"inputs": "<system prompt>\\nUser: ...\\nFalcon: ...\\nUser: <text>\\nFalcon:",
     "parameters": {"max_new_tokens", "do_sample", "temperature", "top_p", "top_k",
                    "repetition_penalty", "stop", "return_full_text": false}}

Without a system prompt and history the prompt is the text alone, as in the seed; the
system prompt is the opening line. Answered with `[{"generated_text": ...}]`.
"""

import json
from typing import Any, Sequence

from core.contract import ChatRequest, Turn
from payloads.plan import PromptPlan
from payloads.tokens import estimate_tokens

SPEAKERS = {"user": "User", "assistant": "Falcon"}
# With labelled turns the model may go on to write the user's next turn; cut the answer there.
CONVERSATION_STOP = "\nUser:"


def build_prompt(text: str, history: Sequence[Turn], system_prompt: str = "") -> str:
    if not history and not system_prompt:
        return text
    lines = [system_prompt] if system_prompt else []
    lines += [f"{SPEAKERS[t.role]}: {t.content}" for t in history]
    lines += [f"User: {text}", "Falcon:"]
    return "\n".join(lines)


def plan(request: ChatRequest, system_prompt: str, family: str, budget: int, scale: float,
         max_turns: int | None) -> PromptPlan:
    """The prompt with as much of the newest history as fits `budget` (estimates x `scale`)."""
    head = f"{system_prompt}\n" if system_prompt else ""
    spent = estimate_tokens(f"{head}User: {request.text}\nFalcon:", family) * scale
    limit = len(request.history) if max_turns is None else max_turns
    used = 0
    for turn in reversed(request.history):
        cost = estimate_tokens(f"{SPEAKERS[turn.role]}: {turn.content}\n", family) * scale
        if used >= limit or spent + cost > budget:
            break
        spent += cost
        used += 1
    history = request.history[len(request.history) - used:] if used else ()
    prompt = build_prompt(request.text, history, system_prompt)
    return PromptPlan(prompt, used, len(request.history) - used, estimate_tokens(prompt, family),
                      style="inputs", conversation=bool(used or system_prompt))


def body(plan: PromptPlan, parameters: dict[str, Any], stream: bool) -> bytes:
    """Streaming adds `"stream": true` (server-sent events) and `"details": true`: without it
    TGI's last event carries no finish_reason or token count."""
    payload: dict[str, Any] = {"inputs": plan.prompt, "parameters": parameters}
    if stream:
        payload.update(stream=True, parameters={**parameters, "details": True})
    return json.dumps(payload).encode()
