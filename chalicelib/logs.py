"""Structured JSON logs: one object per line, with the request id when there is one."""
from __future__ import annotations

import contextvars
import json
import logging
import traceback
from types import TracebackType
from typing import Any

#: The id of the request being handled, stamped on every log line (the API middleware sets it).
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def exception_summary(exc_info: ExcInfo | tuple[None, None, None]) -> dict[str, Any]:
    """An exception as one log field: its type, message, the line that raised it and its causes.

    Never the stack trace: frames carry local values into log stores (secrets among them) and
    spread one event over many lines; type, message and place are what an operator searches by.
    """
    _, error, tb = exc_info
    if error is None:
        return {}
    summary: dict[str, Any] = {"type": type(error).__name__, "message": str(error)[:500]}
    frames = traceback.extract_tb(tb) if tb is not None else []
    if frames:
        summary["where"] = f"{frames[-1].filename.rsplit('/', 2)[-1]}:{frames[-1].lineno}"
    cause = error.__cause__ or error.__context__
    if cause is not None and cause is not error:
        summary["cause"] = exception_summary((type(cause), cause, cause.__traceback__))
    return summary


class OneLineFormatter(logging.Formatter):
    """Plain text for people (the local runtime), with exceptions summarised on the same line."""

    def formatException(self, ei: Any) -> str:
        return json.dumps(exception_summary(ei))

    def format(self, record: logging.LogRecord) -> str:
        return without_traceback(super().format(record)).replace("\n", " ")


TRACEBACK = "Traceback (most recent call last):"


def without_traceback(text: str) -> str:
    """A message some library wrote a traceback into (werkzeug: "Error on request: Traceback
    ..."), cut to what raised: the text before the trace and the trace's last line."""
    if TRACEBACK not in text:
        return text
    before, _, trace = text.partition(TRACEBACK)
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    return f"{before.rstrip()} {lines[-1].strip() if lines else ''} (traceback not logged)"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "request_id": request_id_var.get(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        entry["msg"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = exception_summary(record.exc_info)
        return json.dumps(entry, default=str)


def configure(logger: logging.Logger, level: int = logging.INFO) -> None:
    """Give Chalice's app logger (``conductor``, parent of ours) JSON lines at ``level``."""
    logger.setLevel(level)
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
