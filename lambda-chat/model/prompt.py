"""The prompt of the model's payload style, with history trimmed to the model's token budget.

The endpoint (TGI) accepts at most MODEL_MAX_INPUT_TOKENS prompt tokens, and prompt +
max_new_tokens at most MODEL_MAX_TOTAL_TOKENS; anything longer is a 422. There is no
tokenizer here, so `estimate_tokens` (payloads/tokens.py, calibrated per model family)
over-counts on purpose and the newest history that fits the estimate is kept (the oldest
goes first; the question and the system prompt always stay). The payload styles build the
prompt: payloads/inputs.py (the seed's) and payloads/messages.py (the Messages API). If the model still says the prompt is too long (`PromptTooLong`, with its real
count), `within_token_budget` shrinks the history by what it learned and tries once more.
TGI's `truncate` is not used: it keeps the *last* tokens and would cut the prompt's start.
"""

from typing import Callable, TypeVar

from core.contract import ChatRequest, Turn
from core.logs import log
from payloads import INPUTS, MESSAGES, inputs, messages
from payloads.inputs import CONVERSATION_STOP, SPEAKERS, build_prompt
from payloads.plan import PromptPlan
from payloads.tokens import estimate_tokens
from core.settings import Settings

__all__ = ["CONVERSATION_STOP", "SPEAKERS", "NoChatTemplate", "PromptPlan", "PromptTooLong", "Turn", "build_prompt",
           "estimate_tokens", "plan_prompt", "stop_sequences", "within_token_budget"]

# Extra room asked for after the model reported a real count (its tokenizer and our
# estimate may not scale exactly alike between the two prompts).
RETRY_MARGIN = 1.1


def plan_prompt(request: ChatRequest, budget: int, scale: float = 1.0,
                max_turns: int | None = None, settings: Settings | None = None,
                style: str | None = None) -> PromptPlan:
    """The prompt of the payload style with as much of the newest history as fits `budget`
    (estimates x `scale`). Without settings: the seed's inputs style, no system prompt."""
    style = style or (settings.payload_style if settings else INPUTS)
    system = settings.system_prompt if settings else ""
    family = settings.tokenizer if settings else "falcon"
    builder = messages if style == MESSAGES else inputs
    return builder.plan(request, system, family, budget, scale, max_turns)


def history_limits(settings: Settings) -> dict[str, int]:
    """What a client may send as history for this model (the page adopts it from each answer)."""
    return {"turns": settings.max_history_turns, "chars": settings.max_history_chars}


def stop_sequences(plan: PromptPlan, settings: Settings) -> list[str]:
    """Where an answer to this prompt is cut (the configured stop list, plus a new "User:" turn)."""
    stops = list(settings.stop_sequences)
    if plan.style == INPUTS and settings.payload_style == MESSAGES:
        stops += settings.fallback_stop_sequences  # an inputs prompt sent during an upgrade
    return [*stops, *([CONVERSATION_STOP] if plan.conversation else [])]


class PromptTooLong(Exception):
    """The model refused the prompt as too long: `tokens` it counted, `limit` it allows."""

    def __init__(self, tokens: int, limit: int) -> None:
        super().__init__(f"prompt of {tokens} tokens, at most {limit}")
        self.tokens = tokens
        self.limit = limit


class NoChatTemplate(Exception):
    """The endpoint refused a `messages` body: the model it serves has no chat template.

    Seen while a blue/green update from the seed's Falcon 7B to a Falcon 3 model is under way:
    the functions already send `messages`, the old fleet still serves (for ten minutes or more).
    """


R = TypeVar("R")


def within_token_budget(request: ChatRequest, settings: Settings, attempt: Callable[[PromptPlan], R],
                        request_id: str | None) -> tuple[R, PromptPlan]:
    """Runs `attempt(plan)`; on PromptTooLong with history in the prompt, shrinks it once more.

    A `messages` attempt the endpoint refuses for want of a chat template (NoChatTemplate)
    is made again in the `inputs` style, whose answers the functions read as well: the
    upgrade window of README "Upgrading to Falcon 3". Raises PromptTooLong (which becomes
    `[400] text is too long for the model`) when the question alone does not fit.
    """
    try:
        return _trimmed(request, settings, attempt, request_id, settings.payload_style)
    except NoChatTemplate:
        if settings.payload_style == INPUTS:
            raise
        log.warning("the endpoint has no chat template: this request goes in the inputs style "
                    "(is an update to a Messages API model under way?)", extra={"requestId": request_id})
        return _trimmed(request, settings, attempt, request_id, INPUTS)


def _trimmed(request: ChatRequest, settings: Settings, attempt: Callable[[PromptPlan], R],
             request_id: str | None, style: str) -> tuple[R, PromptPlan]:
    budget = settings.input_budget
    plan = plan_prompt(request, budget, settings=settings, style=style)
    try:
        return attempt(plan), plan
    except PromptTooLong as rejected:
        budget = min(budget, rejected.limit)
        if not plan.history_used:
            raise PromptTooLong(rejected.tokens, budget) from None
        # The model's own count tells how far off the estimate was for this text.
        scale = max(1.0, rejected.tokens / max(1, plan.estimated_tokens)) * RETRY_MARGIN
        # At least one entry fewer, so the same prompt is never sent twice.
        retry = plan_prompt(request, budget, scale, max_turns=plan.history_used - 1,
                            settings=settings, style=style)
        log.warning("the model found the prompt too long: retrying with less history", extra={
            "requestId": request_id, "model_tokens": rejected.tokens, "model_limit": rejected.limit,
            "estimated_tokens": plan.estimated_tokens, "history_used": plan.history_used,
            "retry_history_used": retry.history_used})
    try:
        return attempt(retry), retry
    except PromptTooLong as again:  # no second retry: the answer is [400]
        raise PromptTooLong(again.tokens, min(budget, again.limit)) from None
