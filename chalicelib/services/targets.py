"""Running a target once: an HTTP request, an SQS message, or an event. Never raises for the
target's own failure: the outcome says what happened."""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

RESPONSE_EXCERPT = 2048


@dataclass(frozen=True)
class Outcome:
    success: bool
    duration_ms: float
    status_code: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    retry_after: float | None = None
    response_excerpt: str | None = None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP-date (RFC 9110); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class TargetRunner:
    def __init__(self, session: Any, sqs: Any, publish: Callable[[str, dict[str, Any]], Any],
                 clock: Callable[[], datetime]) -> None:
        self._session = session
        self._sqs = sqs
        self._publish = publish
        self._clock = clock

    def run(self, target: dict[str, Any]) -> Outcome:
        started = time.perf_counter()
        kind = target.get("type")
        if kind == "http":
            outcome = self._http(target)
        elif kind == "sqs":
            outcome = self._sqs_message(target)
        elif kind == "event":
            self._publish(target["event_type"], target.get("data") or {})
            outcome = Outcome(True, 0.0)
        else:
            outcome = Outcome(False, 0.0, error_type="InvalidTarget",
                              error_message=f"unknown target type {kind!r}")
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        return Outcome(**{**outcome.__dict__, "duration_ms": elapsed})

    def _http(self, target: dict[str, Any]) -> Outcome:
        import requests  # noqa: PLC0415 - only attempt Lambdas pay for it

        body = target.get("body")
        timeout = float(target.get("timeout_seconds") or 10)
        try:
            response = self._session.request(
                target.get("method", "POST"), target["url"], headers=target.get("headers") or {},
                data=None if body is None else json.dumps(body),
                timeout=(min(5.0, timeout), timeout), allow_redirects=False)
        except requests.Timeout as exc:
            return Outcome(False, 0.0, error_type="Timeout", error_message=str(exc)[:500])
        except requests.ConnectionError as exc:
            return Outcome(False, 0.0, error_type="ConnectionError", error_message=str(exc)[:500])
        except requests.RequestException as exc:
            return Outcome(False, 0.0, error_type="RequestError", error_message=str(exc)[:500])
        excerpt = response.text[:RESPONSE_EXCERPT] if response.content else ""
        if 200 <= response.status_code < 300:
            return Outcome(True, 0.0, status_code=response.status_code, response_excerpt=excerpt)
        retry_after = None
        if response.status_code in (429, 503):
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
        return Outcome(False, 0.0, status_code=response.status_code,
                       error_type=f"HTTP{response.status_code}",
                       error_message=f"{response.status_code} {response.reason}",
                       retry_after=retry_after, response_excerpt=excerpt)

    def _sqs_message(self, target: dict[str, Any]) -> Outcome:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            self._sqs.send_message(QueueUrl=target["queue_url"],
                                   MessageBody=json.dumps(target.get("message")))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            return Outcome(False, 0.0, error_type=code, error_message=str(exc)[:500])
        except BotoCoreError as exc:
            return Outcome(False, 0.0, error_type=type(exc).__name__, error_message=str(exc)[:500])
        return Outcome(True, 0.0)
