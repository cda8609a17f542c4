"""Tells the waiting page that its streamed answer will not come.

The stream function hands each answer to an asynchronous run of itself. Lambda keeps a
throttled run queued (new accounts often allow 10 functions at once, and every streamed
answer holds one for its whole length) until `maximum_event_age_in_seconds`, and a run
that fails (a crash, a timeout; it is never retried) is given up at once. Either way
Lambda then invokes this function, the stream function's on-failure destination, with
an invocation record, not a WebSocket event:

    {"version": "1.0", "timestamp": "...",
     "requestContext": {"requestId", "functionArn", "condition": "EventAgeExceeded" | "RetriesExhausted",
                        "approximateInvokeCount"},
     "requestPayload": {"streamJob": {"connectionId", "id", ...}},   the original event
     "responseContext": {...}, "responsePayload": {...}}

(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
It posts the connection an `error` frame with the answer's id: EventAgeExceeded is 429
"too busy" (reason `busy`), anything else 503 (reason `stream_failed`), and writes the
outcome's metric line under the stream function's name, so the stream path's rates
count these too. With sign-in, the answer was reserved against the person's daily
allowance before the job was queued (the job carries the reservation); no answer came, so
it is refunded here, as the job itself refunds a failed answer. A connection that has gone
is normal (the person left); nothing raises.

Environment: CONNECTIONS_ENDPOINT (the WebSocket API's management endpoint); with sign-in
USAGE_TABLE (the daily-usage table).
"""

import os
from typing import Any

from core.contract import BUSY, STREAM_FAILED, ChatError
from core.failures import describe
from streaming.frames import ClientGone, FramePoster, PostFailed
from identity.allowance import DailyAllowance, Reservation
from core.logs import log
from observability.metrics import emit_outcome

TOO_BUSY = "the chat is too busy to start your answer right now; please try again in a moment"
NOT_RUN = "your answer could not be completed; please try again"


def failure_for(condition: Any) -> ChatError:
    if condition == "EventAgeExceeded":
        return ChatError(429, TOO_BUSY, BUSY)
    return ChatError(503, NOT_RUN, STREAM_FAILED)


def _function_name(arn: Any) -> str | None:
    """`my-fn` from arn:aws:lambda:<region>:<account>:function:my-fn[:qualifier]."""
    parts = arn.split(":") if isinstance(arn, str) else []
    return parts[6] if len(parts) >= 7 and parts[5] == "function" else None


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    request_id = getattr(context, "aws_request_id", None)
    record = event if isinstance(event, dict) else {}
    request_context = record.get("requestContext") if isinstance(record.get("requestContext"), dict) else {}
    payload = record.get("requestPayload")
    job = payload.get("streamJob") if isinstance(payload, dict) else None
    connection_id = job.get("connectionId") if isinstance(job, dict) else None
    if not isinstance(connection_id, str) or not connection_id:
        log.error("not the failure record of a stream job", extra={"requestId": request_id})
        return {"delivered": False}
    answer_id = job.get("id") if isinstance(job.get("id"), str) else None
    condition = request_context.get("condition")
    error = failure_for(condition)
    fields = {"requestId": request_id, "connectionId": connection_id, "id": answer_id,
              "condition": condition, "jobRequestId": request_context.get("requestId"),
              "status": error.status, "reason": error.reason}
    emit_outcome(error.status, function_name=_function_name(request_context.get("functionArn")),
                 reason=error.reason)
    _refund(job.get("reservation"), fields)
    poster = FramePoster(os.environ.get("CONNECTIONS_ENDPOINT", ""), connection_id, answer_id, request_id)
    try:
        poster.error(error)
    except ClientGone:
        log.info("stream job failed; the connection has gone", extra=fields)
        return {"delivered": False}
    except PostFailed as failed:
        log.warning("stream job failed; the error frame could not be posted",
                    extra={**fields, "cause": str(failed.cause)})
        return {"delivered": False}
    log.warning("stream job failed; the client was told", extra=fields)
    return {"delivered": True}


def _refund(reserved: Any, fields: dict[str, Any]) -> None:
    """Gives back the answer the job had reserved: the model never gave it."""
    reservation = Reservation.from_dict(reserved)
    table = os.environ.get("USAGE_TABLE")
    if reservation is None or not table:
        return
    try:
        DailyAllowance(table, 0).refund(reservation)
    except Exception as error:
        log.warning("allowance refund failed", extra={**fields, "cause": describe(error)})
