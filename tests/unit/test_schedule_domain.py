from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.schedule import (
    LOOK_AHEAD,
    ExpressionError,
    Schedule,
    catch_up,
    describe,
    jitter_offset,
    next_runs,
    parse_expression,
    runs_between,
)
from chalicelib.domain.timeutil import parse_iso

T0 = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("cron(0 9 * *)", "5 fields"),
        ("cron(61 9 * * *)", "invalid cron"),
        ("rate(0 minutes)", "positive"),
        ("rate(5 minute)", "rate(5 minutes)"),
        ("rate(1 minutes)", "rate(1 minute)"),
        ("rate(5 weeks)", "cron(...), rate(...) or at(...)"),
        ("at(tomorrow)", "ISO-8601"),
        ("every day", "cron(...), rate(...) or at(...)"),
    ],
)
def test_invalid_expressions_say_why(text: str, reason: str) -> None:
    with pytest.raises(
        ExpressionError, match=reason.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")
    ):
        parse_expression(text)


def test_cron_in_a_time_zone_across_spring_forward() -> None:
    # Weekdays at 09:00 in Berlin: 08:00 UTC before 29 March 2026, 07:00 UTC after
    runs = next_runs(parse_expression("cron(0 9 * * 1-5)"), "Europe/Berlin", T0, 3, T0)
    assert runs == [utc(2026, 3, 30, 7), utc(2026, 3, 31, 7), utc(2026, 4, 1, 7)]
    before = next_runs(parse_expression("cron(0 9 * * *)"), "Europe/Berlin", utc(2026, 3, 27, 12), 2, T0)
    assert before == [utc(2026, 3, 28, 8), utc(2026, 3, 29, 7)]


def test_a_wall_time_that_does_not_exist_runs_when_clocks_resume() -> None:
    runs = next_runs(parse_expression("cron(30 2 * * *)"), "Europe/Berlin", utc(2026, 3, 28, 12), 2, T0)
    assert runs == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]  # 03:00 CEST, then 02:30


def test_a_wall_time_that_happens_twice_runs_once() -> None:
    runs = next_runs(parse_expression("cron(30 2 * * *)"), "Europe/Berlin", utc(2026, 10, 24, 12), 2, T0)
    assert runs == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_rate_counts_elapsed_time_from_its_anchor() -> None:
    anchor = utc(2026, 3, 29, 0, 7)
    runs = next_runs(parse_expression("rate(1 hour)"), "Europe/Berlin", utc(2026, 3, 29, 0, 30), 3, anchor)
    assert runs == [utc(2026, 3, 29, 1, 7), utc(2026, 3, 29, 2, 7), utc(2026, 3, 29, 3, 7)]
    before = next_runs(parse_expression("rate(5 minutes)"), "UTC", anchor - timedelta(hours=1), 1, anchor)
    assert before == [anchor - timedelta(minutes=60) + timedelta(minutes=5)]  # k < 0 too
    started = next_runs(
        parse_expression("rate(5 minutes)"), "UTC", anchor - timedelta(hours=1), 1, anchor, start_at=anchor
    )
    assert started == [anchor]


def test_at_is_a_wall_time_in_the_zone_and_runs_once() -> None:
    expression = parse_expression("at(2026-12-01T09:00:00)")
    assert next_runs(expression, "America/New_York", T0, 5, T0) == [utc(2026, 12, 1, 14)]
    assert next_runs(expression, "America/New_York", utc(2026, 12, 2), 5, T0) == []


def test_start_and_end_bound_the_runs() -> None:
    runs = next_runs(
        parse_expression("rate(1 day)"), "UTC", T0, 10, T0, start_at=utc(2026, 4, 1), end_at=utc(2026, 4, 3)
    )
    assert runs == [utc(2026, 4, 1), utc(2026, 4, 2), utc(2026, 4, 3)]


def test_unknown_zone_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="IANA"):
        next_runs(parse_expression("rate(1 day)"), "Mars/Olympus", T0, 1, T0)


def test_runs_between_is_bounded() -> None:
    runs = runs_between(parse_expression("rate(1 minute)"), "UTC", T0, T0 + timedelta(hours=5), T0, limit=100)
    assert len(runs) == 100 and runs[0] == T0 + timedelta(minutes=1)


@given(jitter=st.integers(0, 900), minute=st.integers(0, 10_000))
def test_jitter_is_stable_and_bounded(jitter: int, minute: int) -> None:
    moment = T0 + timedelta(minutes=minute)
    offset = jitter_offset("sch_x", moment, jitter)
    assert offset == jitter_offset("sch_x", moment, jitter)
    assert 0 <= offset < max(1, jitter)


def test_catch_up_policies() -> None:
    missed = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    assert catch_up(missed, "skip") == []
    assert catch_up(missed, "latest") == [missed[-1]]
    assert catch_up(missed, "all") == missed


@pytest.mark.parametrize("text", ["cron(0 0 31 2 *)", "cron(0 0 30 2 *)", "cron(0 0 31 4 ? *)"])
def test_a_cron_that_never_matches_is_refused(text: str) -> None:
    with pytest.raises(ExpressionError, match="never matches"):
        parse_expression(text)


@pytest.mark.parametrize(
    ("text", "first", "second"),
    [
        ("cron(0 9 ? * MON-FRI *)", utc(2026, 3, 30, 9), utc(2026, 3, 31, 9)),  # Fri noon -> Mon
        ("cron(0 9 ? * 2-6 *)", utc(2026, 3, 30, 9), utc(2026, 3, 31, 9)),  # 2-6: Monday-Friday
        ("cron(0 9 ? * 1 *)", utc(2026, 3, 29, 9), utc(2026, 4, 5, 9)),  # 1: Sunday
        ("cron(30 8 1 * ? *)", utc(2026, 4, 1, 8, 30), utc(2026, 5, 1, 8, 30)),
        ("cron(0 12 1 1 ? 2028-2029)", utc(2028, 1, 1, 12), utc(2029, 1, 1, 12)),
        ("cron(0 9 ? * MON-FRI)", utc(2026, 3, 30, 9), utc(2026, 3, 31, 9)),  # '?' in 5 fields too
    ],
)
def test_eventbridge_six_field_cron(text: str, first: datetime, second: datetime) -> None:
    assert next_runs(parse_expression(text), "UTC", T0, 2, T0) == [first, second]


def test_a_year_field_ends_the_runs() -> None:
    expression = parse_expression("cron(0 0 1 1 ? 2027)")
    assert next_runs(expression, "UTC", T0, 5, T0) == [utc(2027, 1, 1)]
    assert next_runs(expression, "UTC", utc(2027, 6, 1), 5, T0) == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("cron(0 9 ? * ? *)", "only one"),
        ("cron(0 9 ? * 8 *)", "1-7"),
        ("cron(0 9 * * ? 1960)", "years run"),
        ("cron(0 9 * * ? soon)", "year field"),
        ("cron(0 9 * * * * *)", "6"),
    ],
)
def test_eventbridge_mistakes_say_why(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=reason):
        parse_expression(text)


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("rate(5 minutes)", "Every 5 minutes"),
        ("rate(1 hour)", "Every hour"),
        ("rate(2 days)", "Every 2 days"),
        ("cron(0 9 * * ? *)", "At 09:00"),
        # EventBridge counts weekdays 1-7 from Sunday: 2-6 is Monday to Friday, as MON-FRI is
        ("cron(0 9 ? * 2-6 *)", "At 09:00, Monday through Friday"),
        ("cron(0 9 ? * MON-FRI *)", "At 09:00, Monday through Friday"),
        ("cron(0 9 * * 1-5)", "At 09:00, Monday through Friday"),  # Unix: 1-5 from Sunday = 0
        ("cron(*/15 * * * ? 2027)", "Every 15 minutes, only in 2027"),
        ("at(2026-12-01T09:00:00)", "Once, at 2026-12-01 09:00"),
        ("at(2026-12-01T09:00:00+01:00)", "Once, at 2026-12-01 08:00 UTC"),
    ],
)
def test_an_expression_reads_in_words(expression: str, words: str) -> None:
    assert describe(expression) == words


def _schedule(**fields: object) -> Schedule:
    base: dict[str, object] = {
        "id": "sch_01",
        "name": "n",
        "expression": "rate(1 minute)",
        "timezone": "UTC",
        "overlap_policy": "allow",
        "catchup": "latest",
        "catchup_window_seconds": 3600,
        "enabled": True,
        "target": {},
        "retry_policy": {},
        "version": 1,
        "anchor": "2026-11-30T21:15:24.428Z",
        "created_at": "2026-11-30T21:15:24.428Z",
        "updated_at": "2026-11-30T21:15:24.428Z",
    }
    return Schedule(**{**base, **fields}).placed(parse_iso("2026-11-30T21:15:24.428Z"))


def test_a_tick_takes_the_runs_due_before_the_next_one() -> None:
    # rate(1 minute) created at 21:15:24.428: runs at 21:16:24.428, 21:17:24.428, ...
    schedule = _schedule()
    tick = utc(2026, 11, 30, 21, 16)
    assert schedule.due_runs(tick) == ([], 0)  # nothing due at the tick itself
    runs, skipped = schedule.due_runs(tick, tick + LOOK_AHEAD)
    assert runs == [(parse_iso("2026-11-30T21:16:24.428Z"), "scheduled")] and skipped == 0


def test_next_starts_are_the_times_runs_start() -> None:
    schedule = _schedule(jitter_seconds=30)
    now = parse_iso("2026-11-30T21:16:30Z")
    starts = schedule.next_starts(now, 3)
    assert starts == sorted(starts) and all(s > now for s in starts)
    for start in starts:  # each its run's time plus its stable offset
        scheduled = start - timedelta(
            seconds=schedule.start_offset(start.replace(second=24, microsecond=428_000))
        )
        assert scheduled.second == 24
    # a past at() the catch-up policy still runs starts now (handed on when it is written)
    late = _schedule(expression="at(2026-11-30T21:10:00)")
    made = parse_iso("2026-11-30T21:15:24.428Z")
    assert late.next_starts(made, 5) == [made]
    assert _schedule(enabled=False).next_starts(now, 5) == []
