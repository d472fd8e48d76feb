"""Log lines carry an exception as one summary field, never a stack trace."""
from __future__ import annotations

import json
import logging

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

        return logging.LogRecord("conductor.x", logging.ERROR, __file__, 1, "boom", None,
                                 sys.exc_info())
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
    record = logging.LogRecord("werkzeug", logging.ERROR, __file__, 1,
                               "Error on request:\nTraceback (most recent call last):\n  File "
                               "\"x.py\", line 3, in f\n    g()\nKeyError: 'tat'", None, None)
    line = OneLineFormatter("%(levelname)s %(message)s").format(record)
    assert line == "ERROR Error on request: KeyError: 'tat' (traceback not logged)"


def test_the_local_runtimes_plain_lines_stay_on_one_line() -> None:
    line = OneLineFormatter("%(levelname)s %(message)s").format(record_of_failure())
    assert "\n" not in line and "Traceback" not in line
    assert "RuntimeError" in line and "KeyError" in line
