"""The stream job: one answer streamed from the model to one WebSocket connection.

The `chat` route invokes the function asynchronously with
`{"streamJob": {"connectionId", "id", "text", "history", "acceptedAt"}}`. The job builds
the same prompt as POST /chat (same validation, same history trimming to the model's
token budget, one retry with less history if the model still finds it too long), calls
InvokeEndpointWithResponseStream with the streaming payload of the model's style
(payloads/), and posts `started` at once, then `token` frames about every
STREAM_BATCH_MS ms, then `done` or `error` (docs/streaming.md). It never
raises: Lambda would retry a failed asynchronous invocation and answer twice.
"""

import logging
import time
from contextlib import closing
from typing import Any, Callable

from core.contract import ChatError, ChatRequest, parse_request
from conversations.chat import ConversationTurn, begin_turn
from conversations.store import ConversationStore
from identity.claims import caller_of_job
from core.failures import ModelReported, describe, to_chat_error, too_long_event
from streaming.frames import ClientGone, FramePoster, PostFailed
from core.logs import log, ms_since
from model.client import open_stream, tgi_payload
from model.stream import Deadline, ModelStream
from observability.metrics import emit_outcome
from model.prompt import PromptPlan, history_limits, stop_sequences, within_token_budget
from core.settings import StreamSettings
from streaming.text import AnswerShaper

DEADLINE_MARGIN_SECONDS = 2.0  # stop (504) this long before the function's own timeout


def now_ms() -> int:
    return int(time.time() * 1000)


class Batcher:
    """Gathers answer text and posts it about every `batch_ms` (the first piece at once)."""

    def __init__(self, poster: FramePoster, batch_ms: int, accepted_at: int) -> None:
        self.poster = poster
        self.batch_ms = batch_ms
        self.accepted_at = accepted_at
        self.pending = ""
        self.since = 0.0  # when the oldest pending text arrived
        self.first_token_ms: int | None = None

    def add(self, text: str) -> None:
        if text:
            if not self.pending:
                self.since = time.monotonic()
            self.pending += text
        if self.pending and (self.first_token_ms is None
                             or (time.monotonic() - self.since) * 1000 >= self.batch_ms):
            self.flush()

    def flush(self) -> None:
        if self.pending:
            text, self.pending = self.pending, ""
            self.poster.token(text)
            if self.first_token_ms is None:
                self.first_token_ms = now_ms() - self.accepted_at


def run(job: Any, context: Any, settings: StreamSettings,
        refund: "Callable[[], None] | None" = None, store: ConversationStore | None = None) -> None:
    """Streams one answer; `refund` gives back the daily allowance when no answer was given;
    `store` (conversations on) loads the job's conversation and saves the turn in it."""
    request_id = getattr(context, "aws_request_id", None)
    started = time.perf_counter()
    connection_id = job.get("connectionId") if isinstance(job, dict) else None
    if not isinstance(connection_id, str) or not connection_id:
        log.error("stream job without a connection", extra={"requestId": request_id})
        return
    answer_id = job.get("id") if isinstance(job.get("id"), str) else None
    accepted_at = job.get("acceptedAt")
    if not isinstance(accepted_at, int) or isinstance(accepted_at, bool):
        accepted_at = now_ms()
    poster = FramePoster(settings.connections_endpoint, connection_id, answer_id, request_id)
    fields: dict[str, Any] = {"requestId": request_id, "connectionId": connection_id, "id": answer_id}
    turn: ConversationTurn | None = None
    try:
        poster.started()  # first frame: the page stops saying the answer has not started yet
        request = parse_request(job, settings.chat, saved=store is not None)
        if store is not None:
            turn = _conversation_turn(job, request, store, settings, accepted_at, request_id)
            request = turn.request
            fields["conversationId"] = turn.conversation_id
        fields.update(_answer(request, context, settings, poster, accepted_at, fields, turn))
        log.info("stream answered", extra={**fields, "status": 200, "frames": poster.frames,
                                           "elapsed_ms": now_ms() - accepted_at})
        emit_outcome(200, function_name=getattr(context, "function_name", None),
                     first_token_ms=fields.get("first_token_ms"),
                     generated_tokens=fields.get("generated_tokens"))
    except (ClientGone, PostFailed) as stop:
        # Nobody to tell: the socket is closed, or posting keeps failing.
        reason = "the client has gone" if isinstance(stop, ClientGone) else "frames could not be posted"
        if turn is not None:
            turn.stopped(poster.shown)  # what the person saw, marked stopped
            fields["saved"] = turn.saved
        log.warning("stream stopped", extra={
            **fields, "reason": reason, "frames": poster.frames, "job_ms": ms_since(started),
            **({"cause": describe(stop.cause)} if isinstance(stop, PostFailed) else {})})
        if poster.frames == 0:
            _refund(refund, fields)
    except Exception as error:
        _refund(refund, fields)
        chat_error = to_chat_error(error)
        try:
            poster.error(chat_error, turn.failed(chat_error) if turn is not None else None)
        except (ClientGone, PostFailed):
            pass
        level = logging.WARNING if chat_error.status in (400, 429) else logging.ERROR
        log.log(level, "stream failed", exc_info=chat_error.status == 500 and error is not chat_error,
                extra={**fields, "status": chat_error.status, "reason": chat_error.reason, "error": chat_error.message,
                       "cause": describe(error), "frames": poster.frames,
                       "elapsed_ms": now_ms() - accepted_at})
        emit_outcome(chat_error.status, function_name=getattr(context, "function_name", None),
                     reason=chat_error.reason)


def _refund(refund: "Callable[[], None] | None", fields: dict[str, Any]) -> None:
    if refund is None:
        return
    try:
        refund()
    except Exception as error:
        log.warning("allowance refund failed", extra={**fields, "cause": describe(error)})


def _conversation_turn(job: dict[str, Any], request: ChatRequest, store: ConversationStore,
                       settings: StreamSettings, accepted_at: int, request_id: str | None) -> ConversationTurn:
    caller = caller_of_job(job.get("caller"))
    if caller is None:
        raise ChatError(500, "the function is misconfigured: the stream job carries no caller")
    return begin_turn(store, caller, request, settings.chat.input_budget, settings.chat.tokenizer,
                      accepted_at, request_id)


def _answer(request: ChatRequest, context: Any, settings: StreamSettings, poster: FramePoster,
            accepted_at: int, fields: dict[str, Any], turn: ConversationTurn | None) -> dict[str, Any]:
    chat = settings.chat
    fields.update(text_chars=len(request.text), history_turns=len(request.history))
    deadline = Deadline(context.get_remaining_time_in_millis, DEADLINE_MARGIN_SECONDS)
    model_started = time.perf_counter()

    def attempt(plan: PromptPlan) -> ModelStream:
        body, _ = open_stream(tgi_payload(plan, chat, stream=True), chat,
                              settings.stream_read_timeout, poster.request_id)
        stream = ModelStream(body, settings.stream_read_timeout, deadline)
        try:
            stream.peek()  # TGI reports a prompt that is too long as its first event
        except ModelReported as error:
            stream.close()
            raise too_long_event(error) or error
        except BaseException:
            stream.close()
            raise
        return stream

    stream, plan = within_token_budget(request, chat, attempt, poster.request_id)
    fields.update(history_used=plan.history_used, history_dropped=plan.history_dropped,
                  estimated_tokens=plan.estimated_tokens)
    shaper = AnswerShaper(stop_sequences(plan, chat))
    batcher = Batcher(poster, settings.batch_ms, accepted_at)
    details: dict[str, Any] = {}
    with closing(stream):  # closing early (stop sequence, client gone) ends the model's work
        for event in stream:
            batcher.add(shaper.feed(event.text) if event.text else "")
            if shaper.stopped:
                break
            if event.final:
                details = event.details
                break
        else:
            # TGI always ends with a final event (generate) or [DONE] (Messages API).
            raise ChatError(502, "the model failed to answer")
        batcher.add(shaper.finish())
        batcher.flush()
    model_ms = ms_since(model_started)
    if not shaper.text:
        raise ChatError(502, "the model returned no text")
    done: dict[str, Any] = {"msg": shaper.text, "elapsed_ms": now_ms() - accepted_at,
                            "first_token_ms": batcher.first_token_ms, "model_ms": model_ms,
                            "history_used": plan.history_used, "history_limits": history_limits(chat)}
    for key in ("generated_tokens", "finish_reason"):
        if key in details:
            done[key] = details[key]
    if turn is not None:
        done.update(turn.answered(shaper.text))  # saved before `done`, which names the conversation
        fields["saved"] = turn.saved
    poster.done(done)
    result = {"first_token_ms": batcher.first_token_ms, "model_ms": model_ms,
              "model_events": stream.model_events, "answer_chars": len(shaper.text),
              **{k: details[k] for k in ("generated_tokens", "finish_reason") if k in details}}
    if chat.log_prompts:
        result.update(prompt=plan.prompt, answer=shaper.text)
    return result
