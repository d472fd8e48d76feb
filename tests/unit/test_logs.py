"""Log lines carry an exception as one summary field, never a stack trace."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.logs import JsonFormatter, OneLineFormatter


def record_of_failure() -> logging.LogRecord:
    def inner() -> None:
        token = "cnd_secret_in_a_local_variable"
        raise KeyError(token[:0] + "missing")

    try:
        try:
            inner()
        except KeyError as exc:
            raise RuntimeError("the store failed") from exc
    except RuntimeError:
        import sys

        return logging.LogRecord("conductor.x", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    raise AssertionError("unreachable")


def test_json_lines_summarise_the_exception_and_its_cause() -> None:
    line = JsonFormatter().format(record_of_failure())
    entry = json.loads(line)
    assert "\n" not in line and "Traceback" not in line and "cnd_secret" not in line
    assert entry["exception"]["type"] == "RuntimeError"
    assert entry["exception"]["message"] == "the store failed"
    assert entry["exception"]["where"].startswith("test_logs.py:")
    assert entry["exception"]["cause"]["type"] == "KeyError"


def test_a_traceback_written_into_a_message_is_cut_to_what_raised() -> None:
    # werkzeug (moto's server) logs "Error on request:" with the traceback inside the message
    record = logging.LogRecord(
        "werkzeug",
        logging.ERROR,
        __file__,
        1,
        "Error on request:\nTraceback (most recent call last):\n  File "
        "\"x.py\", line 3, in f\n    g()\nKeyError: 'tat'",
        None,
        None,
    )
    line = OneLineFormatter("%(levelname)s %(message)s").format(record)
    assert line == "ERROR Error on request: KeyError: 'tat' (traceback not logged)"


def test_the_local_runtimes_plain_lines_stay_on_one_line() -> None:
    line = OneLineFormatter("%(levelname)s %(message)s").format(record_of_failure())
    assert "\n" not in line and "Traceback" not in line
    assert "RuntimeError" in line and "KeyError" in line


class Context:
    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id
        self.function_name = "conductor-dev"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:conductor-dev"


def test_lines_carry_powertools_fields_the_lambda_context_and_the_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given Lambda's trace header and an invocation's context
    monkeypatch.setenv(
        "_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    )
    context = Context("req-1")
    formatter = JsonFormatter(lambda: context)
    record = logging.LogRecord(
        "conductor.x", logging.INFO, __file__, 7, "hello %s", ("you",), None, func="handler"
    )
    record.fields = {"status": 200}
    # When two lines are written, in the first invocation and in a later one
    first = json.loads(formatter.format(record))
    context = Context("req-2")
    second = json.loads(formatter.format(record))
    # Then each has Powertools' keys, and only the container's first invocation is cold
    assert first["level"] == "INFO" and first["location"] == "handler:7"
    assert first["message"] == "hello you" and first["service"] == "conductor"
    assert first["timestamp"].endswith("Z") and "T" in first["timestamp"]
    assert first["function_name"] == "conductor-dev" and first["function_memory_size"] == 512
    assert first["function_arn"].endswith(":function:conductor-dev")
    assert first["function_request_id"] == "req-1" and first["cold_start"] is True
    assert second["function_request_id"] == "req-2" and second["cold_start"] is False
    assert first["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert first["status"] == 200 and first["request_id"] == "-"


def test_without_an_invocation_no_lambda_fields_are_made_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    record = logging.LogRecord("conductor.x", logging.INFO, __file__, 1, "m", None, None)
    entry = json.loads(JsonFormatter().format(record))
    assert not {"cold_start", "function_name", "xray_trace_id"} & set(entry)
