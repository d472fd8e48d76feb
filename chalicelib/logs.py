"""Structured JSON logs: one object per line, with the request id when there is one."""
from __future__ import annotations

import json
import logging
from typing import Any


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        from chalicelib.api.middleware import request_id_var  # noqa: PLC0415

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
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(logger: logging.Logger, level: int = logging.INFO) -> None:
    """Give Chalice's app logger (``conductor``, parent of ours) JSON lines at ``level``."""
    logger.setLevel(level)
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
