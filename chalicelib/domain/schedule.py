"""Schedule expressions and run times, pure.

- ``cron(m h dom mon dow)``: five fields (Unix: day-of-week 0-6, Sunday 0), or EventBridge's six
  ``cron(m h dom mon dow year)`` (day-of-week 1-7, Sunday 1; ``?`` in day-of-month or
  day-of-week; a year field), in the schedule's IANA time zone. An expression that can never match
  (``cron(0 0 30 2 *)``) is refused. Across DST: a wall time
  that does not exist (spring forward) runs when the clocks resume (02:30 -> 03:00, as Vixie cron
  does); a wall time that happens twice (fall back) runs once, at its first occurrence.
- ``rate(N minute|minutes|hour|hours|day|days)``: every N units of elapsed time from the anchor
  (``start_at``, else the creation time), whatever the time zone.
- ``at(2026-12-01T09:00:00)``: once, at that wall time in the schedule's zone.
Jitter spreads a run by a stable offset derived from the schedule and its time, so a retried tick
computes the same offset.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from chalicelib.domain.timeutil import parse_iso, to_iso

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
    years: frozenset[int] | None = None  # EventBridge's year field (None: every year)
    year_field: str | None = None  # that field as written ("2027", "2026-2028"), for words


@functools.lru_cache(maxsize=1024)
def parse_expression(text: str) -> Expression:
    """One parse per distinct expression per container (a list of schedules re-reads the same
    few); an invalid one raises ``ExpressionError`` every time."""
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
        return _parse_cron(text, match.group(1).split())
    if match := _AT.match(text):
        try:
            moment = datetime.fromisoformat(match.group(1).strip())
        except ValueError as exc:
            raise ExpressionError(
                "at() takes an ISO-8601 date and time, e.g. at(2026-12-01T09:00:00)"
            ) from exc
        if moment.tzinfo is not None:  # an explicit offset wins over the schedule's zone
            return Expression("at", text, at=moment.astimezone(UTC).replace(tzinfo=None), at_is_utc=True)
        return Expression("at", text, at=moment)
    raise ExpressionError("use cron(...), rate(...) or at(...)")


@functools.lru_cache(maxsize=1024)
def describe(text: str) -> str:
    """An expression in words for people reading a schedule: "Every 5 minutes", "At 09:00,
    Monday through Friday", "Once, at 2026-12-01 09:00". The cron part is worded by
    cron-descriptor (imported here, on a write or a preview: ~50 ms a container, never on a read)."""
    expression = parse_expression(text)
    if expression.every is not None:
        amount, unit = next(
            (int(expression.every.total_seconds()) // size, name)
            for name, size in (("day", 86400), ("hour", 3600), ("minute", 60))
            if expression.every.total_seconds() % size == 0
        )
        return f"Every {unit}" if amount == 1 else f"Every {amount} {unit}s"
    if expression.at is not None:
        return f"Once, at {expression.at:%Y-%m-%d %H:%M}" + (" UTC" if expression.at_is_utc else "")
    from cron_descriptor import Options, get_description  # noqa: PLC0415

    options = Options()
    options.use_24hour_time_format = True
    words = get_description(expression.cron, options)  # Unix fields: weekdays already from 0
    return f"{words}, only in {expression.year_field}" if expression.year_field else words


_YEAR_PART = re.compile(r"^(\*|\d{4}(-\d{4})?)(/\d{1,3})?$")
FIRST_YEAR, LAST_YEAR = 1970, 2199  # EventBridge's range


def _parse_cron(text: str, fields: list[str]) -> Expression:
    years, year = None, None
    if len(fields) == 6:  # EventBridge: m h dom mon dow year, day-of-week 1-7 from Sunday
        *fields, year = fields
        years = _years(year)
        fields[4] = _eventbridge_weekdays(fields[4])
    elif len(fields) != 5:
        raise ExpressionError(
            "cron() takes 5 fields (minute hour day-of-month month day-of-week) "
            f"or EventBridge's 6 (… year), got {len(fields)}"
        )
    if fields[2] == "?" and fields[4] == "?":
        raise ExpressionError("cron(): only one of day-of-month and day-of-week may be '?'")
    fields = ["*" if value == "?" else value for value in fields]
    expression = " ".join(fields)
    if not croniter.is_valid(expression):
        raise ExpressionError(f"invalid cron expression {' '.join(fields)!r}")
    try:  # croniter gives up on a date that never comes (Feb 30) instead of looping forever
        croniter(expression, datetime(2024, 1, 1)).get_next(datetime)
    except CroniterBadDateError as exc:
        raise ExpressionError(
            f"cron({' '.join(fields)}) never matches a date (e.g. the 30th of February)"
        ) from exc
    return Expression(
        "cron", text, cron=expression, years=years, year_field=year if years is not None else None
    )


def _years(field: str) -> frozenset[int] | None:
    if field in ("*", "?"):
        return None
    chosen: set[int] = set()
    for part in field.split(","):
        if not _YEAR_PART.match(part):
            raise ExpressionError(f"cron(): invalid year field {field!r}")
        span, _, step_text = part.partition("/")
        first, _, last = span.partition("-")
        low = FIRST_YEAR if first == "*" else int(first)
        high = (LAST_YEAR if first == "*" or step_text else low) if not last else int(last)
        if not FIRST_YEAR <= low <= high <= LAST_YEAR:
            raise ExpressionError(f"cron(): years run {FIRST_YEAR}-{LAST_YEAR}, got {part!r}")
        chosen.update(range(low, high + 1, int(step_text or 1)))
    return frozenset(chosen)


def _eventbridge_weekdays(field: str) -> str:
    """EventBridge counts weekdays 1-7 from Sunday; Unix cron (croniter) 0-6 from Sunday."""

    def shift(value: str) -> str:
        if not value.isdigit():
            return value  # a name (MON), '*' or '?'
        number = int(value)
        if not 1 <= number <= 7:
            raise ExpressionError("cron(): EventBridge's day-of-week runs 1-7 (1 is Sunday)")
        return str(number - 1)

    parts = []
    for part in field.split(","):
        head, slash, step = part.partition("/")
        if "#" in head:
            day, _, nth = head.partition("#")
            head = f"{shift(day)}#{nth}"
        elif head.endswith("L") and head[:-1].isdigit():
            head = f"{shift(head[:-1])}L"
        else:
            head = "-".join(shift(value) for value in head.split("-"))
        parts.append(head + slash + step)
    return ",".join(parts)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ExpressionError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)") from exc


def _cron_times(expression: Expression, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Cron times after ``after`` (UTC), in UTC, each wall time once."""
    local_start = after.astimezone(tz)
    if expression.years and min(expression.years) > local_start.year:  # skip to its first year
        local_start = datetime(min(expression.years), 1, 1, tzinfo=tz) - timedelta(microseconds=1)
    iterator = croniter(expression.cron, local_start)
    previous_wall: datetime | None = None
    for _ in range(MAX_SCAN):
        try:
            local = iterator.get_next(datetime)
        except CroniterBadDateError:
            return
        wall = local.replace(tzinfo=None)
        if wall == previous_wall:
            continue  # the repeated hour of a fall-back: run once
        previous_wall = wall
        moment = local.astimezone(UTC)
        if expression.years is not None and local.year not in expression.years:
            if local.year > max(expression.years):
                return  # no later year is chosen: it never runs again
            continue
        if moment > after:
            yield moment


def next_runs(
    expression: Expression,
    tz_name: str,
    after: datetime,
    count: int,
    anchor: datetime,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
    until: datetime | None = None,
) -> list[datetime]:
    """Up to ``count`` run times strictly after ``after``, within [start_at, end_at] and not
    after ``until``, in UTC."""
    tz = zone(tz_name)
    floor = max(after, start_at - timedelta(microseconds=1)) if start_at else after
    runs: list[datetime] = []
    if expression.kind == "at":
        assert expression.at is not None
        moment = (
            expression.at.replace(tzinfo=UTC)
            if expression.at_is_utc
            else expression.at.replace(tzinfo=tz).astimezone(UTC)
        )
        candidates: Iterator[datetime] = iter([moment] if moment > floor else [])
    elif expression.kind == "rate":
        assert expression.every is not None
        step = expression.every
        base = start_at or anchor
        # anchor + k * step for any whole k: a rate also has times before its anchor (backfill)
        first = start_at if start_at and floor < start_at else (base + step * ((floor - base) // step + 1))
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


def runs_between(
    expression: Expression,
    tz_name: str,
    start: datetime,
    end: datetime,
    anchor: datetime,
    limit: int,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> list[datetime]:
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


def _time(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


ON_TIME = timedelta(seconds=120)  # a run this late is still "on time" for a minute tick
MAX_CATCHUP = 100  # runs one tick starts for ``catchup: all``
MAX_SCAN_RUNS = 10_000  # run times one tick looks at (a week of minutes)


@dataclass(frozen=True)
class Schedule:
    """A schedule definition with its counters; the timing rules need nothing but its fields."""

    id: str
    name: str
    expression: str
    timezone: str
    overlap_policy: str  # skip | allow | buffer_one
    catchup: str  # skip | latest | all
    catchup_window_seconds: int
    enabled: bool
    target: dict[str, Any]
    retry_policy: dict[str, Any]
    version: int
    anchor: str  # where a rate's steps are counted from
    created_at: str
    updated_at: str
    description: str | None = None
    start_at: str | None = None
    end_at: str | None = None
    jitter_seconds: int = 0
    paused_note: str | None = None
    tags: tuple[str, ...] = ()
    next_run_at: str | None = None
    running: int = 0  # how many runs hold a slot: len(running_ids)
    #: the runs holding a slot now (ids in a set: a retried write of the same id counts once)
    running_ids: tuple[str, ...] = ()
    buffered: str | None = None  # the one run waiting (buffer_one), as its queue message
    #: the runs waiting under ``buffer_all``, oldest first, as their queue messages
    buffered_all: tuple[str, ...] = ()
    #: EventBridge's flexible time window: each run starts at a stable point within this many
    #: minutes after its time (None: OFF)
    flexible_window_minutes: int | None = None
    #: ``delete``: the schedule deletes itself once its last run ended (EventBridge's
    #: ActionAfterCompletion, for one-time schedules); ``none``: it stays
    action_after_completion: str = "none"
    #: Temporal's limited actions: runs left to start on schedule (None: no limit); at 0 the
    #: schedule pauses itself
    remaining_actions: int | None = None
    #: newest runs kept per outcome, beside the TTL (Kubernetes' successfulJobsHistoryLimit /
    #: failedJobsHistoryLimit): {"succeeded": N, "failed": M}; None: all until their TTL
    history_limits: dict[str, int] | None = None
    runs: int = 0
    failures: int = 0
    last_run_at: str | None = None
    last_success_at: str | None = None
    last_failure_at: str | None = None
    pause_after_failures: int | None = None
    #: the expression in words (``describe``), made when the schedule is written
    expression_words: str | None = None
    failure_streak: int = 0  # runs in a row that ended failed, after their retries
    deleted_at: str | None = None  # a tombstone, kept while its history is
    expires_at: int | None = None

    @functools.cached_property
    def parsed(self) -> Expression:
        """The expression, parsed once per schedule value (ExpressionError if it is bad)."""
        return parse_expression(self.expression)

    def _bounds(self) -> tuple[datetime, datetime | None, datetime | None]:
        anchor = _time(self.anchor)
        assert anchor is not None
        return anchor, _time(self.start_at), _time(self.end_at)

    def upcoming(self, after: datetime, count: int) -> list[datetime]:
        """The next ``count`` run times after ``after``."""
        anchor, start, end = self._bounds()
        return next_runs(self.parsed, self.timezone, after, count, anchor, start, end)

    def runs_in(self, start: datetime, end: datetime, limit: int) -> list[datetime]:
        """Run times in (start, end], at most ``limit``."""
        anchor, start_at, end_at = self._bounds()
        return runs_between(self.parsed, self.timezone, start, end, anchor, limit, start_at, end_at)

    def late_once(self, now: datetime) -> datetime | None:
        """The time of an ``at()`` that has passed but lies within the catch-up window, when the
        catch-up policy runs missed runs: it is due at once (the next tick runs it as catch-up)."""
        if self.parsed.kind != "at" or self.catchup == "skip":
            return None
        missed = self.runs_in(now - timedelta(seconds=self.catchup_window_seconds), now, 1)
        return missed[0] if missed else None

    def placed(self, now: datetime) -> Schedule:
        """With its next run set (none when paused or finished)."""
        upcoming = self.upcoming(now, 1) if self.enabled else []
        if not upcoming and self.enabled and not self.runs:
            late = self.late_once(now)  # a past at() the catch-up policy still runs
            upcoming = [late] if late else []
        return dataclasses.replace(self, next_run_at=to_iso(upcoming[0]) if upcoming else None)

    def never_runs(self, now: datetime) -> tuple[str, str] | None:
        """(field, problem) when no run lies ahead: a definition that is a mistake."""
        if self.upcoming(now, 1) or self.late_once(now):
            return None
        end = _time(self.end_at)
        if end and end <= now:
            return "end_at", "is in the past: no run is left"
        return "expression", (
            "is in the past; to run it once now, set catchup to 'latest' or 'all' with a "
            "catchup_window_seconds that reaches back to it"
            if self.parsed.kind == "at"
            else "has no run after now (its year field is over)"
        )

    def due_runs(
        self, now: datetime, horizon: datetime | None = None
    ) -> tuple[list[tuple[datetime, str]], int]:
        """The runs a tick at ``now`` fires (on-time ones up to ``horizon``, the look-ahead, and
        missed ones as the catch-up policy says), and how many missed ones it skips."""
        horizon = horizon or now
        first = _time(self.next_run_at)
        assert first is not None
        if first > horizon:
            return [], 0
        lower = max(first, now - timedelta(seconds=self.catchup_window_seconds))
        times = [first] if first >= lower else []  # older than the catch-up window: not looked at
        times += self.runs_in(lower, horizon, MAX_SCAN_RUNS)
        on_time = [t for t in times if now - t < ON_TIME]
        missed = [t for t in times if now - t >= ON_TIME]
        chosen = catch_up(missed, self.catchup)[-MAX_CATCHUP:]
        runs = [(t, "catchup") for t in chosen] + [(t, "scheduled") for t in on_time]
        return runs, len(times) - len(runs)

    def start_offset(self, scheduled_for: datetime) -> int:
        """Seconds after its time that a run starts: its stable jitter offset, plus its stable
        place in the flexible time window (the same on every tick)."""
        window = int(self.flexible_window_minutes or 0) * 60
        return jitter_offset(self.id, scheduled_for, self.jitter_seconds) + jitter_offset(
            f"{self.id}|window", scheduled_for, window
        )

    def _spread(self) -> int:
        """The most a run may start after its time."""
        return max(0, self.jitter_seconds) + int(self.flexible_window_minutes or 0) * 60

    def starts_at(self, scheduled_for: datetime) -> datetime:
        return scheduled_for + timedelta(seconds=self.start_offset(scheduled_for))

    def next_starts(self, now: datetime, count: int) -> list[datetime]:
        """When the next ``count`` runs will start (what the API announces): each run's time plus
        its offset, a run whose time passed but whose offset is still ahead included, and a past
        ``at()`` the catch-up policy still runs: now (the write that made it hands it to a
        dispatch worker at once; only a dispatch queue that is down leaves it to the tick)."""
        if not self.enabled:
            return []
        spread = timedelta(seconds=self._spread())
        starts = [self.starts_at(t) for t in self.upcoming(now - spread, count + 1)]
        if self.remaining_actions is not None:
            starts = starts[: self.remaining_actions]
        starts = sorted(t for t in starts if t > now)[:count]
        if not starts and not self.runs and self.late_once(now):
            starts = [now]
        return starts


#: How far ahead a tick takes runs: the minute to the next tick, plus a margin for a tick that
#: comes late. Runs in it are sent with an SQS delay and start at their time, not at a tick.
LOOK_AHEAD = timedelta(seconds=75)


@dataclass(frozen=True)
class Execution:
    """One run of a schedule; its key is derived from the schedule and the scheduled time, so a
    run is claimed once however many ticks see it."""

    schedule_id: str
    sort_key: str  # "<scheduled_for>#<execution id>"
    id: str
    scheduled_for: str
    trigger: str  # scheduled | manual | catchup | backfill
    status: str  # pending | running | succeeded | failed | skipped | retrying
    created_at: str
    expires_at: int
    started_at: str | None = None
    finished_at: str | None = None
    duration_ms: float | None = None
    status_code: int | None = None
    error: dict[str, Any] | None = None
    retry_job_id: str | None = None
    note: str | None = None
    #: the running attempt's claim and until when it holds (a crashed run is taken over)
    claim_token: str | None = None
    lease_until: int | None = None
    #: seconds after ``scheduled_for`` it was planned to start (its jitter offset)
    start_offset_seconds: int = 0
    #: the overlap policy for this run when it differs from the schedule's (a backfill's own)
    overlap_policy: str | None = None

    def start_delay_ms(self) -> float | None:
        """How late it started against its planned start (its time plus its offset): the
        scheduler's precision, per run. Negative: early."""
        if self.started_at is None or self.trigger not in ("scheduled", "catchup"):
            return None
        planned = parse_iso(self.scheduled_for) + timedelta(seconds=self.start_offset_seconds or 0)
        return round((parse_iso(self.started_at) - planned).total_seconds() * 1000, 1)
