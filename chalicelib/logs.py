"""Structured JSON logs: one object per line, with the fields Powertools for AWS Lambda's Logger
writes (so its users' queries and CloudWatch Logs Insights recipes work unchanged), plus the API
request id that ``X-Request-Id`` answers, so one line joins a response, a Lambda invocation and
an X-Ray trace."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

#: The id of the request being handled, stamped on every log line (the API middleware sets it).
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

#: The Lambda context of the invocation being served (set by ``with_lambda_context``).
lambda_context_var: contextvars.ContextVar[Any] = contextvars.ContextVar("lambda_context", default=None)

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


#: what a line must never carry, whoever wrote it (a library's request line included): a query's
#: token or ticket, a bearer credential, an API key or a webhook secret
_SECRETS = re.compile(
    r"(?P<name>[?&](?:token|ticket|api_key)=)[^&\s\"']+"
    r"|(?P<bearer>Bearer\s+)[^\s\"']+"
    r"|(?P<bare>\b(?:cnd|whsec)_)[A-Za-z0-9+/=_-]{8,}"
)


def redact(text: str) -> str:
    """``text`` with every secret it carries replaced by ``[redacted]``."""
    return _SECRETS.sub(
        lambda m: (m.group("name") or m.group("bearer") or m.group("bare")) + "[redacted]", text
    )


class OneLineFormatter(logging.Formatter):
    """Plain text for people (the local runtime), with exceptions summarised on the same line
    and secrets redacted (third-party loggers' lines go through it too)."""

    def formatException(self, ei: Any) -> str:
        return json.dumps(exception_summary(ei))

    def format(self, record: logging.LogRecord) -> str:
        return redact(without_traceback(super().format(record)).replace("\n", " "))


TRACEBACK = "Traceback (most recent call last):"


def without_traceback(text: str) -> str:
    """A message some library wrote a traceback into (werkzeug: "Error on request: Traceback
    ..."), cut to what raised: the text before the trace and the trace's last line."""
    if TRACEBACK not in text:
        return text
    before, _, trace = text.partition(TRACEBACK)
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    return f"{before.rstrip()} {lines[-1].strip() if lines else ''} (traceback not logged)"


def xray_trace_id() -> str | None:
    """The invocation's trace (``Root=1-…;Parent=…;Sampled=1`` → ``1-…``), as Powertools logs it;
    Lambda sets ``_X_AMZN_TRACE_ID`` per invocation."""
    header = os.environ.get("_X_AMZN_TRACE_ID", "")
    for part in header.split(";"):
        name, _, value = part.partition("=")
        if name.strip() == "Root" and value:
            return value
    return None


class _ColdStart:
    """The first invocation a container serves is its cold start; each later one is warm."""

    def __init__(self) -> None:
        self.first: str | None = None

    def __call__(self, aws_request_id: str) -> bool:
        if self.first is None:
            self.first = aws_request_id
        return aws_request_id == self.first


class JsonFormatter(logging.Formatter):
    """One JSON object per line: Powertools' keys (``level``, ``location``, ``message``,
    ``timestamp``, ``service``, ``cold_start``, ``function_*``, ``xray_trace_id``), then
    ``logger``, ``request_id`` (the API's X-Request-Id) and the record's own ``fields``."""

    def __init__(self, context: Callable[[], Any] | None = None, service: str | None = None) -> None:
        super().__init__()
        self._context = context or (lambda: None)
        self._service = service or os.environ.get("POWERTOOLS_SERVICE_NAME", "conductor")
        self._cold_start = _ColdStart()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "service": self._service,
        }
        context = self._context()
        request = getattr(context, "aws_request_id", None)
        if request:
            entry.update(
                {
                    "cold_start": self._cold_start(request),
                    "function_name": getattr(context, "function_name", None),
                    "function_memory_size": getattr(context, "memory_limit_in_mb", None),
                    "function_arn": getattr(context, "invoked_function_arn", None),
                    "function_request_id": request,
                }
            )
        trace = xray_trace_id()
        if trace:
            entry["xray_trace_id"] = trace
        entry["logger"] = record.name
        entry["request_id"] = request_id_var.get()
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = exception_summary(record.exc_info)
        return redact(json.dumps(entry, default=str))


def configure(logger: logging.Logger, level: int = logging.INFO) -> None:
    """Give Chalice's app logger (``conductor``, parent of ours) JSON lines at ``level``."""
    logger.setLevel(level)
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter(lambda_context_var.get))


def with_lambda_context(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware for every kind of event: keep the invocation's Lambda context where
    the log formatter finds it (Chalice keeps it on the app for REST calls only)."""
    # an HTTP request's ``context`` is API Gateway's request context, not Lambda's
    context = event.lambda_context if hasattr(event, "lambda_context") else getattr(event, "context", None)
    token = lambda_context_var.set(context)
    try:
        return get_response(event)
    finally:
        lambda_context_var.reset(token)
