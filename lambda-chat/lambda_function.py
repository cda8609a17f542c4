"""Chat API: validates a `/chat` request and asks the Falcon model on SageMaker for an answer.

API Gateway invokes this function through a non-proxy integration, so the event is
the request body as a JSON object: `{"text": "...", "history": [{"role", "content"}, ...]}`.

Success returns `{"msg": <answer>, "elapsed_ms": ..., "model_ms": ..., "history_used": ..., "history_limits": {"turns", "chars"}}`
(plus token counts when the model reports them). Every failure is raised as `ChatError`,
whose message is `[<status>] <reason>`; API Gateway maps that prefix to the HTTP status
(contract/chat-errors.json) and shows the caller only the reason.

Configuration comes from environment variables, read and checked once at cold start
(core/settings.py, docs/lambda.md). Standard library and boto3 only. The packages it uses:
core (contract, error mapping, settings, logs), model (prompt, token budget, SageMaker
calls), identity (the caller, the daily allowance); stream_function is the WebSocket
entry point of the same package.
"""

import logging
import time
from typing import Any

from core.contract import ChatError, ChatRequest, parse_request
from core.failures import describe, to_chat_error
from identity.allowance import DailyAllowance, Reservation
from identity.claims import Caller, split_event
from identity.settings import identity_at_cold_start
from identity.tickets import Tickets
from core.logs import log, ms_since
from observability.metrics import emit_outcome
from model.client import RETRY_WINDOW_SECONDS, call_model, model_client, parse_answer, tgi_payload
from model.prompt import PromptPlan, history_limits, stop_sequences, within_token_budget
from core.settings import Settings, load_at_cold_start, load_settings
from conversations.chat import ConversationTurn, begin_turn
from conversations.items import now_ms
from conversations.settings import conversations_at_cold_start
from conversations.store import ConversationStore

__all__ = ["ChatError", "RETRY_WINDOW_SECONDS", "SETTINGS", "lambda_handler", "log", "model_client"]

SETTINGS, CONFIG_PROBLEM = load_at_cold_start(load_settings)
IDENTITY, IDENTITY_PROBLEM = identity_at_cold_start()
ALLOWANCE = (DailyAllowance(IDENTITY.usage_table, IDENTITY.daily_answers)
             if IDENTITY and IDENTITY.usage_table else None)
TICKETS = Tickets(IDENTITY.tickets_table, IDENTITY.ticket_ttl) if IDENTITY and IDENTITY.tickets_table else None
CONVERSATIONS, CONVERSATIONS_PROBLEM = conversations_at_cold_start()
STORE = ConversationStore(CONVERSATIONS) if CONVERSATIONS else None  # None: conversations off


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    request_id = getattr(context, "aws_request_id", None)
    fields: dict[str, Any] = {"requestId": request_id}
    try:
        if SETTINGS is None or IDENTITY is None or CONVERSATIONS_PROBLEM:
            raise ChatError(500, "the function is misconfigured: "
                                 f"{CONFIG_PROBLEM or IDENTITY_PROBLEM or CONVERSATIONS_PROBLEM}")
        body, caller, action = split_event(event, IDENTITY)
        if caller is not None:
            fields["userId"] = caller.user_id
        if action == "ticket":
            return _ticket(caller, fields)
        return _counted(body, caller, SETTINGS, context, started)
    except Exception as error:
        chat_error = to_chat_error(error)
        level = logging.WARNING if chat_error.status in (400, 429) else logging.ERROR
        log.log(level, "chat failed", exc_info=chat_error.status == 500 and error is not chat_error,
                extra={**fields, "status": chat_error.status,
                       "reason": chat_error.reason, "error": chat_error.message, "cause": describe(error),
                       "elapsed_ms": ms_since(started)})
        emit_outcome(chat_error.status, function_name=getattr(context, "function_name", None),
                     reason=chat_error.reason)
        raise chat_error from None


def _ticket(caller: Caller | None, fields: dict[str, Any]) -> dict[str, Any]:
    """POST /chat/ticket: a single-use ticket for the WebSocket's $connect (never logged)."""
    if caller is None or TICKETS is None:
        raise ChatError(500, "the function is misconfigured: no ticket table")
    minted = TICKETS.mint(caller)
    log.info("ticket minted", extra=fields)
    return minted


def _counted(body: Any, caller: Caller | None, settings: Settings, context: Any,
             started: float) -> dict[str, Any]:
    """An answer counted against the caller's daily allowance; refunded when it fails."""
    if caller is None or ALLOWANCE is None:
        return _answer(body, settings, context, started)
    parse_request(body, settings, saved=STORE is not None)  # a 400 before anything is counted
    reservation: Reservation | None = ALLOWANCE.reserve(caller)
    try:
        return _answer(body, settings, context, started, caller)
    except BaseException:
        try:
            ALLOWANCE.refund(reservation)
        except Exception as refund_error:
            log.warning("allowance refund failed", extra={"requestId": getattr(context, "aws_request_id", None),
                                                          "cause": describe(refund_error)})
        raise


def _answer(event: Any, settings: Settings, context: Any, started: float,
            caller: Caller | None = None) -> dict[str, Any]:
    question_at = now_ms()
    request_id = getattr(context, "aws_request_id", None)
    request = parse_request(event, settings, saved=STORE is not None)
    turn: ConversationTurn | None = None
    if STORE is not None and caller is not None:  # conversations need sign-in (their settings check)
        turn = begin_turn(STORE, caller, request, settings.input_budget, settings.tokenizer,
                          question_at, request_id)
        request = turn.request  # with the history read from the store
    try:
        return _asked(request, settings, context, started, turn)
    except Exception as error:
        if turn is not None:
            turn.failed(to_chat_error(error))
        raise


def _asked(request: ChatRequest, settings: Settings, context: Any, started: float,
           turn: ConversationTurn | None) -> dict[str, Any]:
    request_id = getattr(context, "aws_request_id", None)
    model_started = time.perf_counter()

    def attempt(plan: PromptPlan) -> tuple[bytes, int]:
        return call_model(tgi_payload(plan, settings), settings, request_id)

    (body, attempts), plan = within_token_budget(request, settings, attempt, request_id)
    model_ms = ms_since(model_started)
    answer = parse_answer(body, stop_sequences(plan, settings))

    result: dict[str, Any] = {"msg": answer.text, "elapsed_ms": ms_since(started),
                              "model_ms": model_ms, "history_used": plan.history_used,
                              "history_limits": history_limits(settings)}
    for key in ("generated_tokens", "finish_reason"):
        if key in answer.details:
            result[key] = answer.details[key]
    if turn is not None:
        result.update(turn.answered(answer.text))
    fields = {"requestId": request_id, "elapsed_ms": result["elapsed_ms"], "model_ms": model_ms,
              "attempts": attempts, **_sizes(request, plan), "answer_chars": len(answer.text)}
    if turn is not None:
        fields.update(conversationId=turn.conversation_id, saved=turn.saved)
    if settings.log_prompts:
        fields.update(prompt=plan.prompt, answer=answer.text)
    log.info("chat answered", extra=fields)
    emit_outcome(200, function_name=getattr(context, "function_name", None),
                 generated_tokens=result.get("generated_tokens"))
    return result


def _sizes(request: ChatRequest, plan: PromptPlan) -> dict[str, int]:
    """What the log says about a request's size (never its text)."""
    return {"text_chars": len(request.text), "history_turns": len(request.history),
            "history_used": plan.history_used, "history_dropped": plan.history_dropped,
            "estimated_tokens": plan.estimated_tokens}
