"""JSON log lines for both functions, shaped like the Lambda runtime's JSON log format.

On Lambda with log format JSON (`AWS_LAMBDA_LOG_FORMAT=JSON`) the runtime's own root
handler writes the lines and turns `extra=` fields into keys; elsewhere (tests, the dev
worker) `log` writes the same shape to stdout. Callers never pass prompt or answer text
unless LOG_PROMPTS is on.
"""

import json
import logging
import os
import sys
import time
from typing import Any

log = logging.getLogger("lambda-chat")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_HANDLER_NAME = "lambda-chat-json-lines"


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        line.update((k, v) for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES)
        if record.exc_info and record.exc_info[0] is not None:
            line["errorType"] = record.exc_info[0].__name__
            line["stackTrace"] = self.formatException(record.exc_info).splitlines()
        return json.dumps(line, ensure_ascii=False, default=str)


class _StdoutHandler(logging.Handler):
    """Writes to whatever `sys.stdout` is at the time (Lambda captures stdout)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
        except Exception:  # pragma: no cover - logging must never break the handler
            self.handleError(record)


def setup_logging() -> None:
    """Idempotent, so a re-import (tests simulate cold starts) never stacks handlers."""
    for old in [h for h in log.handlers if h.get_name() == _HANDLER_NAME]:
        log.removeHandler(old)
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
        # The runtime's root handler writes JSON; its applicationLogLevel decides what is written.
        log.setLevel(logging.NOTSET)
        log.propagate = True
        return
    handler = _StdoutHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonLineFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def ms_since(started: float) -> int:
    """Milliseconds since a `time.perf_counter()` reading."""
    return round((time.perf_counter() - started) * 1000)


setup_logging()
