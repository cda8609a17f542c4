"""The Falcon prompt, a conservative token estimate, and history trimmed to the model's budget.

Falcon-instruct's endpoint (TGI) accepts at most MODEL_MAX_INPUT_TOKENS prompt tokens,
and prompt + max_new_tokens at most MODEL_MAX_TOTAL_TOKENS; anything longer is a 422.
There is no tokenizer here, so `estimate_tokens` over-counts on purpose and the newest
history that fits the estimate is kept (the oldest goes first; the question always
stays). If the model still says the prompt is too long (`PromptTooLong`, with its real
count), `within_token_budget` shrinks the history by what it learned and tries once more.
TGI's `truncate` is not used: it keeps the *last* tokens and would cut the prompt's start.
"""

import math
from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

from contract import ChatRequest, Turn
from logs import log
from settings import Settings

SPEAKERS = {"user": "User", "assistant": "Falcon"}
# With history the model may go on to write the user's next turn; cut the answer there.
CONVERSATION_STOP = "\nUser:"
# Extra room asked for after the model reported a real count (its tokenizer and our
# estimate may not scale exactly alike between the two prompts).
RETRY_MARGIN = 1.1


def estimate_tokens(text: str) -> int:
    """An upper estimate of Falcon's token count (byte-level BPE, 65k vocabulary).

    Per maximal run: ASCII letters ceil(n/3) (English averages ~4 characters a token,
    rare words fewer); digits 1 each; other ASCII symbols 1 each; each line break or
    tab 1; a single space 0 (BPE merges it into the next word), each further space 1;
    every non-ASCII character its UTF-8 length (byte-level BPE's worst case: Korean and
    CJK 3, emoji 4, accented Latin 2). Splitting a text never lowers the sum, so the
    estimates of a prompt's parts add up to at least the whole's.
    """
    total = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        j = i + 1
        if ch.isascii() and ch.isalpha():
            while j < n and text[j].isascii() and text[j].isalpha():
                j += 1
            total += math.ceil((j - i) / 3)
        elif ch == " ":
            while j < n and text[j] == " ":
                j += 1
            total += j - i - 1
        elif ch.isascii():
            total += 1  # a digit, a symbol, a line break or tab
        else:
            total += len(ch.encode("utf-8", "surrogatepass"))
        i = j
    return total


def build_prompt(text: str, history: Sequence[Turn]) -> str:
    """Falcon-instruct chat prompt; without history it is the text alone, as in the seed."""
    if not history:
        return text
    lines = [f"{SPEAKERS[t.role]}: {t.content}" for t in history]
    lines += [f"User: {text}", "Falcon:"]
    return "\n".join(lines)


@dataclass(frozen=True)
class PromptPlan:
    prompt: str
    history_used: int  # the newest entries of the request's history that are in the prompt
    history_dropped: int
    estimated_tokens: int

    @property
    def stop_sequences_extra(self) -> list[str]:
        return [CONVERSATION_STOP] if self.history_used else []


def plan_prompt(request: ChatRequest, budget: int, scale: float = 1.0,
                max_turns: int | None = None) -> PromptPlan:
    """The prompt with as much of the newest history as fits `budget` (estimates x `scale`)."""
    spent = estimate_tokens(f"User: {request.text}\nFalcon:") * scale
    limit = len(request.history) if max_turns is None else max_turns
    used = 0
    for turn in reversed(request.history):
        cost = estimate_tokens(f"{SPEAKERS[turn.role]}: {turn.content}\n") * scale
        if used >= limit or spent + cost > budget:
            break
        spent += cost
        used += 1
    history = request.history[len(request.history) - used:] if used else ()
    prompt = build_prompt(request.text, history)
    return PromptPlan(prompt, used, len(request.history) - used, estimate_tokens(prompt))


def stop_sequences(plan: PromptPlan, settings: Settings) -> list[str]:
    """Where an answer to this prompt is cut (TGI's stop list, plus a new "User:" turn)."""
    return [*settings.stop_sequences, *plan.stop_sequences_extra]


class PromptTooLong(Exception):
    """The model refused the prompt as too long: `tokens` it counted, `limit` it allows."""

    def __init__(self, tokens: int, limit: int) -> None:
        super().__init__(f"prompt of {tokens} tokens, at most {limit}")
        self.tokens = tokens
        self.limit = limit


R = TypeVar("R")


def within_token_budget(request: ChatRequest, settings: Settings, attempt: Callable[[PromptPlan], R],
                        request_id: str | None) -> tuple[R, PromptPlan]:
    """Runs `attempt(plan)`; on PromptTooLong with history in the prompt, shrinks it once more.

    Raises PromptTooLong (which becomes `[400] text is too long for the model`) when the
    question alone does not fit.
    """
    budget = settings.input_budget
    plan = plan_prompt(request, budget)
    try:
        return attempt(plan), plan
    except PromptTooLong as rejected:
        budget = min(budget, rejected.limit)
        if not plan.history_used:
            raise PromptTooLong(rejected.tokens, budget) from None
        # The model's own count tells how far off the estimate was for this text.
        scale = max(1.0, rejected.tokens / max(1, plan.estimated_tokens)) * RETRY_MARGIN
        # At least one entry fewer, so the same prompt is never sent twice.
        retry = plan_prompt(request, budget, scale, max_turns=plan.history_used - 1)
        log.warning("the model found the prompt too long: retrying with less history", extra={
            "requestId": request_id, "model_tokens": rejected.tokens, "model_limit": rejected.limit,
            "estimated_tokens": plan.estimated_tokens, "history_used": plan.history_used,
            "retry_history_used": retry.history_used})
    try:
        return attempt(retry), retry
    except PromptTooLong as again:  # no second retry: the answer is [400]
        raise PromptTooLong(again.tokens, min(budget, again.limit)) from None
