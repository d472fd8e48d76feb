from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.events import (
    CATALOG,
    CATEGORIES,
    is_known_type,
    is_valid_pattern,
    make_event,
    matching_patterns,
    pattern_matches,
)
from chalicelib.domain.ids import id_time


def test_catalog_covers_four_categories_without_duplicates() -> None:
    names = [t.name for t in CATALOG]
    assert len(names) == len(set(names))
    assert {t.category for t in CATALOG} == set(CATEGORIES)
    assert len(CATEGORIES) == 4


def test_matching_patterns_most_specific_first() -> None:
    assert matching_patterns("webhook.delivery.failed") == [
        "webhook.delivery.failed",
        "webhook.delivery.*",
        "webhook.*",
        "*",
    ]
    assert matching_patterns("schedule.executed") == ["schedule.executed", "schedule.*", "*"]


@pytest.mark.parametrize(
    ("pattern", "event_type", "expected"),
    [
        ("schedule.*", "schedule.executed", True),
        ("schedule.*", "error.succeeded", False),
        ("*", "error.succeeded", True),
        ("schedule.executed", "schedule.executed", True),
        ("schedule.executed", "schedule.failed", False),
        ("sched*", "schedule.failed", False),
    ],
)
def test_pattern_matching(pattern: str, event_type: str, expected: bool) -> None:
    assert pattern_matches(pattern, event_type) is expected


@pytest.mark.parametrize("pattern", ["*", "schedule.*", "schedule.executed", "custom.a.b.*"])
def test_valid_patterns(pattern: str) -> None:
    assert is_valid_pattern(pattern)


@pytest.mark.parametrize("pattern", ["", "**", "*.executed", "schedule.*.x", "Schedule.*", "a b"])
def test_invalid_patterns(pattern: str) -> None:
    assert not is_valid_pattern(pattern)


def test_custom_types_are_known_but_only_well_formed() -> None:
    assert is_known_type("custom.order_shipped")
    assert is_known_type("schedule.executed")
    assert not is_known_type("custom.")
    assert not is_known_type("custom.Order")
    assert not is_known_type("order.shipped")


def test_event_envelope_shares_one_instant_between_id_and_timestamp() -> None:
    now = datetime(2026, 11, 29, 10, 0, 0, 999999, tzinfo=UTC)
    event = make_event("schedule.deleted", {"schedule_id": "sch_x"}, now)
    assert event.to_dict() == {
        "id": event.id,
        "type": "schedule.deleted",
        "timestamp": "2026-11-29T10:00:00.999Z",
        "data": {"schedule_id": "sch_x"},
    }
    assert id_time(event.id).isoformat().startswith("2026-11-29T10:00:00.999")


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValueError):
        make_event("nope", {}, datetime.now(UTC))


def test_every_catalog_type_has_a_publisher() -> None:
    """A type in the catalog that nothing publishes is a promise the API does not keep."""
    import re
    from pathlib import Path

    from chalicelib.domain.events import CATALOG

    root = Path(__file__).resolve().parents[2]
    code = "\n".join(
        path.read_text()
        for folder in ("chalicelib",)
        for path in (root / folder).rglob("*.py")
        if path.name != "events.py" or path.parent.name != "domain"
    )
    code += (root / "app.py").read_text()
    # published to the bus, or made for one endpoint (webhook.test)
    published = set(re.findall(r'(?:publish|make_event)\(\s*"([a-z_.]+)"', code))
    published |= set(re.findall(r'"(schedule\.(?:resumed|paused))"', code))  # chosen by a flag
    published |= set(re.findall(r'"(circuit\.[a-z_]+)"', code))  # named from breaker states
    missing = [t.name for t in CATALOG if t.name not in published]
    assert missing == []


def test_every_catalog_type_declares_its_data_and_drift_is_found() -> None:
    from chalicelib.domain.events import CATALOG, data_problems, data_schema

    # every type says what its data holds (the documented webhook payloads)
    assert all(t.fields for t in CATALOG)
    schema = data_schema("schedule.failed")
    assert schema["properties"]["retry_job_id"] == {"type": ["string", "null"]}
    assert "retry_job_id" in schema["required"]
    assert "retry_job_id" not in data_schema("error.resolved")["required"]  # one of two shapes
    assert data_schema("custom.order.shipped")["type"] == "object"
    # a missing field, a wrong type, a bool where a number belongs are found; extras are fine
    assert data_problems("schedule.updated", {"schedule_id": "sch_1", "version": 2, "x": 1}) == []
    assert data_problems("schedule.updated", {"schedule_id": "sch_1"}) == ["version: missing"]
    assert data_problems("schedule.updated", {"schedule_id": 1, "version": True}) == [
        "schedule_id: int is not string",
        "version: bool is not integer",
    ]
    assert data_problems("error.resolved", {"dead_letter_id": "dlq_1", "note": None}) == []


def test_reactions_are_one_table_and_origins_are_explicit() -> None:
    from types import SimpleNamespace

    from chalicelib import reactions
    from chalicelib.domain.origins import origin_of

    assert set(reactions.REACTIONS) == {
        "retry_job.finished",
        "dead_letter.resolved",
        "breaker.closed",
        "api_key.revoked",
    }
    try:
        reactions.hook("schedule.exploded", None)
        raise AssertionError("an undeclared reaction must not be wired")
    except KeyError:
        pass
    job = SimpleNamespace(origin=None, replay_of=None, workflow_id="sch_1", execution_id="exe_1")
    # a job stored before `origin` existed is read the way it was made then
    assert origin_of(job) == {"type": "schedule_run", "schedule_id": "sch_1", "execution_id": "exe_1"}
    job.origin = {"type": "api"}
    assert origin_of(job) == {"type": "api"}
