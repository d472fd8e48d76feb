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
from urllib.parse import urlsplit

from chalicelib.domain.ssrf import ERROR_TYPE as FORBIDDEN
from chalicelib.domain.ssrf import ForbiddenTarget, OutboundGuard
from chalicelib.errors import ValidationFailed

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


@dataclass(frozen=True)
class TargetQueues:
    """Which queues an ``sqs`` target may name.

    Never one of Conductor's own (a message there would be taken for Conductor's own work: a
    forged event would reach every WebSocket and webhook). In a deployed stage only the queues
    on the allow-list (``CONDUCTOR_SQS_TARGET_QUEUES``, queue ARNs), which the IAM policy also
    limits ``sqs:SendMessage`` to; local runs allow any other queue.
    """

    own: frozenset[str]
    allowed: tuple[str, ...] = ()
    deployed: bool = False

    def refusal(self, queue_url: str, redrive: bool = False) -> str | None:
        """Why ``queue_url`` may not be a target; ``redrive``: a dead letter going back to the
        Conductor queue it came from, which only a replay makes."""
        parts = urlsplit(queue_url)
        path = [segment for segment in parts.path.split("/") if segment]
        if parts.scheme not in ("http", "https") or len(path) != 2 or not path[0].isdigit():
            return "must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)"
        account, name = path
        if name in self.own:
            return None if redrive else "names one of Conductor's own queues"
        if name.removesuffix("-dlq") in self.own:
            return "names one of Conductor's own queues"
        if not self.deployed:
            return None
        for arn in self.allowed:
            fields = arn.split(":")
            if (
                len(fields) == 6
                and fields[4] == account
                and fields[5] == name
                and (fields[3] in (parts.hostname or "") or fields[3] == "*")
            ):
                return None
        return "is not on this stage's allow-list of target queues (CONDUCTOR_SQS_TARGET_QUEUES)"


def status_text(status: int) -> str:
    """``503 Service Unavailable``: the standard phrase, not the server's own reason text, so one
    failure gives one dead-letter fingerprint whichever server said it."""
    from http import HTTPStatus  # noqa: PLC0415

    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP status {status}"


class TargetRunner:
    def __init__(
        self,
        session: Any,
        sqs: Any,
        publish: Callable[[str, dict[str, Any]], Any],
        clock: Callable[[], datetime],
        queues: TargetQueues | None = None,
        guard: OutboundGuard | None = None,
    ) -> None:
        self._session = session
        self._sqs = sqs
        self._publish = publish
        self._clock = clock
        self._queues = queues or TargetQueues(frozenset())
        self._guard = guard

    def validate(self, target: dict[str, Any], field: str = "target") -> None:
        """Refuse, when it is accepted, a target that could never be run (400 with the field)."""
        kind = target.get("type")
        if kind == "http" and self._guard is not None:
            try:
                self._guard.check(target["url"])
            except ForbiddenTarget as exc:
                raise ValidationFailed(
                    "This target URL may not be called.", [{"field": f"{field}.url", "problem": str(exc)}]
                ) from exc
        elif kind == "sqs":
            reason = self._queues.refusal(target["queue_url"], bool(target.get("redrive")))
            if reason is not None:
                raise ValidationFailed(
                    "This queue may not be a target.", [{"field": f"{field}.queue_url", "problem": reason}]
                )

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
            outcome = Outcome(
                False, 0.0, error_type="InvalidTarget", error_message=f"unknown target type {kind!r}"
            )
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        return Outcome(**{**outcome.__dict__, "duration_ms": elapsed})

    def _http(self, target: dict[str, Any]) -> Outcome:
        import requests  # noqa: PLC0415 - only attempt Lambdas pay for it

        from chalicelib.services.outbound import ForbiddenRequest, describe  # noqa: PLC0415

        url = target["url"]

        body = target.get("body")
        timeout = float(target.get("timeout_seconds") or 10)
        try:
            response = self._session.request(
                target.get("method", "POST"),
                target["url"],
                headers=target.get("headers") or {},
                data=None if body is None else json.dumps(body),
                timeout=(min(5.0, timeout), timeout),
                allow_redirects=False,
            )
        except ForbiddenRequest as exc:  # checked at connect time: nothing was sent
            return Outcome(False, 0.0, error_type=FORBIDDEN, error_message=str(exc)[:500])
        except requests.Timeout as exc:
            return Outcome(False, 0.0, error_type="Timeout", error_message=describe(exc, url))
        except requests.ConnectionError as exc:
            return Outcome(False, 0.0, error_type="ConnectionError", error_message=describe(exc, url))
        except requests.RequestException as exc:
            return Outcome(False, 0.0, error_type="RequestError", error_message=describe(exc, url))
        excerpt = response.text[:RESPONSE_EXCERPT] if response.content else ""
        if 200 <= response.status_code < 300:
            return Outcome(True, 0.0, status_code=response.status_code, response_excerpt=excerpt)
        retry_after = None
        if response.status_code in (429, 503):
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
        return Outcome(
            False,
            0.0,
            status_code=response.status_code,
            error_type=f"HTTP{response.status_code}",
            error_message=status_text(response.status_code),
            retry_after=retry_after,
            response_excerpt=excerpt,
        )

    def _sqs_message(self, target: dict[str, Any]) -> Outcome:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        reason = self._queues.refusal(target["queue_url"], bool(target.get("redrive")))
        if reason is not None:  # checked again: a job or schedule made before the rule existed
            return Outcome(False, 0.0, error_type=FORBIDDEN, error_message=f"queue_url {reason}")
        try:
            self._sqs.send_message(
                QueueUrl=target["queue_url"], MessageBody=json.dumps(target.get("message"))
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            return Outcome(False, 0.0, error_type=code, error_message=str(exc)[:500])
        except BotoCoreError as exc:
            return Outcome(False, 0.0, error_type=type(exc).__name__, error_message=str(exc)[:500])
        return Outcome(True, 0.0)
