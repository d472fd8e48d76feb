"""Schedule expressions and run times, pure.

- ``cron(m h dom mon dow)``: five fields, in the schedule's IANA time zone. Across DST: a wall time
  that does not exist (spring forward) runs when the clocks resume (02:30 -> 03:00, as Vixie cron
  does); a wall time that happens twice (fall back) runs once, at its first occurrence.
- ``rate(N minute|minutes|hour|hours|day|days)``: every N units of elapsed time from the anchor
  (``start_at``, else the creation time), whatever the time zone.
- ``at(2026-12-01T09:00:00)``: once, at that wall time in the schedule's zone.
Jitter spreads a run by a stable offset derived from the schedule and its time, so a retried tick
computes the same offset.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

_RATE = re.compile(r"^rate\((\d{1,6})\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_AT = re.compile(r"^at\((.+)\)$")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
MAX_SCAN = 10_000  # bound on candidate times examined for one answer


class ExpressionError(ValueError):
    """An expression, time zone or window that cannot be scheduled; the message says why."""


@dataclass(frozen=True)
class Expression:
    kind: str  # cron | rate | at
    text: str
    cron: str | None = None
    every: timedelta | None = None
    at: datetime | None = None  # naive wall time, in the schedule's zone (or UTC, below)
    at_is_utc: bool = False  # at() carried an explicit offset


def parse_expression(text: str) -> Expression:
    text = (text or "").strip()
    if match := _RATE.match(text):
        amount, unit = int(match.group(1)), match.group(2).rstrip("s")
        if amount < 1:
            raise ExpressionError("rate() needs a positive amount")
        plural = match.group(2).endswith("s")
        if plural != (amount > 1):
            raise ExpressionError(f"write rate({amount} {unit}{'' if amount == 1 else 's'})")
        return Expression("rate", text, every=timedelta(seconds=amount * UNIT_SECONDS[unit]))
    if match := _CRON.match(text):
        fields = match.group(1).split()
        if len(fields) != 5:
            raise ExpressionError(
                f"cron() takes 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}")
        expression = " ".join(fields)
        if not croniter.is_valid(expression):
            raise ExpressionError(f"invalid cron expression {expression!r}")
        return Expression("cron", text, cron=expression)
    if match := _AT.match(text):
        try:
            moment = datetime.fromisoformat(match.group(1).strip())
        except ValueError as exc:
            raise ExpressionError("at() takes an ISO-8601 date and time, e.g. "
                                  "at(2026-12-01T09:00:00)") from exc
        if moment.tzinfo is not None:  # an explicit offset wins over the schedule's zone
            return Expression("at", text, at=moment.astimezone(UTC).replace(tzinfo=None),
                              at_is_utc=True)
        return Expression("at", text, at=moment)
    raise ExpressionError("use cron(...), rate(...) or at(...)")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ExpressionError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)") from exc


def _cron_times(expression: Expression, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Cron times after ``after`` (UTC), in UTC, each wall time once."""
    local_start = after.astimezone(tz)
    iterator = croniter(expression.cron, local_start)
    previous_wall: datetime | None = None
    for _ in range(MAX_SCAN):
        local = iterator.get_next(datetime)
        wall = local.replace(tzinfo=None)
        if wall == previous_wall:
            continue  # the repeated hour of a fall-back: run once
        previous_wall = wall
        moment = local.astimezone(UTC)
        if moment > after:
            yield moment


def next_runs(expression: Expression, tz_name: str, after: datetime, count: int,
              anchor: datetime, start_at: datetime | None = None,
              end_at: datetime | None = None, until: datetime | None = None) -> list[datetime]:
    """Up to ``count`` run times strictly after ``after``, within [start_at, end_at] and not
    after ``until``, in UTC."""
    tz = zone(tz_name)
    floor = max(after, start_at - timedelta(microseconds=1)) if start_at else after
    runs: list[datetime] = []
    if expression.kind == "at":
        assert expression.at is not None
        moment = (expression.at.replace(tzinfo=UTC) if expression.at_is_utc
                  else expression.at.replace(tzinfo=tz).astimezone(UTC))
        candidates: Iterator[datetime] = iter([moment] if moment > floor else [])
    elif expression.kind == "rate":
        assert expression.every is not None
        step = expression.every
        base = start_at or anchor
        # anchor + k * step for any whole k: a rate also has times before its anchor (backfill)
        first = start_at if start_at and floor < start_at else (
            base + step * ((floor - base) // step + 1))
        candidates = (first + step * i for i in range(MAX_SCAN))
    else:
        candidates = _cron_times(expression, tz, floor)
    stop = min((t for t in (end_at, until) if t is not None), default=None)
    for moment in candidates:
        if stop is not None and moment > stop:
            break
        runs.append(moment)
        if len(runs) >= count:
            break
    return runs


def runs_between(expression: Expression, tz_name: str, start: datetime, end: datetime,
                 anchor: datetime, limit: int, start_at: datetime | None = None,
                 end_at: datetime | None = None) -> list[datetime]:
    """Run times in (start, end], at most ``limit`` (backfill and catch-up)."""
    return next_runs(expression, tz_name, start, limit, anchor, start_at, end_at, until=end)


def jitter_offset(schedule_id: str, scheduled_for: datetime, jitter_seconds: int) -> int:
    """A stable offset in [0, jitter_seconds) for one run of one schedule."""
    if jitter_seconds <= 0:
        return 0
    digest = hashlib.sha256(f"{schedule_id}|{scheduled_for.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % jitter_seconds


def catch_up(missed: list[datetime], policy: str) -> list[datetime]:
    """Which missed run times to run now: ``skip`` none, ``latest`` the last, ``all`` all."""
    if policy == "all":
        return missed
    if policy == "latest":
        return missed[-1:]
    return []
