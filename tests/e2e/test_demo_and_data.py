"""`make run ARGS="--demo --data DIR"`: every view populated, and the data kept across a restart."""

from __future__ import annotations

import signal
import stat
from pathlib import Path
from typing import Any

import pytest
import requests
from conductor_client import Conductor

from tests.e2e.conftest import local_runtime, wait_until

pytestmark = pytest.mark.e2e


def test_demo_data_fills_every_view_and_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "conductor-data"
    # Given `--demo --data DIR` on a first start (no admin key given: one is made and kept)
    with local_runtime("--demo", "--data", str(data), admin_key=None) as first:
        first.wait_for("Demo data:", timeout=60)
        key = (data / "admin-key").read_text().strip()
        assert stat.S_IMODE((data / "admin-key").stat().st_mode) == 0o600
        assert f"Admin key:  {key}" in "\n".join(first.banner)
        c = Conductor(first.api, key)
        schedules = list(c.schedules.list())
        hooks = list(c.webhooks.list())
        # Then schedules in several zones (one paused), endpoints (one disabled) ...
        assert len(schedules) == 5 and len({s["timezone"] for s in schedules}) == 5
        assert [s["name"] for s in schedules if not s["enabled"]] == ["Legacy cleanup"]
        assert len(hooks) == 3 and sum(not h["enabled"] for h in hooks) == 1

        # ... and, within a minute, retries that succeeded and dead-lettered, an open breaker,
        # a failing schedule's runs, deliveries, and the dashboard's views filled
        def settled() -> dict[str, Any] | None:
            statuses = {j["status"] for j in c.retries.list()}
            breakers = {b["service"]: b["state"] for b in c.breakers.list()}
            failing = next(s for s in schedules if s["name"] == "Export billing")
            runs = list(c.schedules.history(failing["id"], limit=5))
            delivered = [d for h in hooks if h["enabled"] for d in c.webhooks.deliveries(h["id"], limit=5)]
            if (
                {"succeeded", "dead_lettered"} <= statuses
                and breakers.get("ledger") in ("open", "half_open")
                and any(r["status"] == "failed" for r in runs)
                and delivered
            ):
                return {"breakers": breakers, "runs": runs}
            return None

        assert wait_until(settled, 60), "the demo's data did not settle within a minute"
        letters = sorted(d["id"] for d in c.dlq.list())
        assert letters
        headers = {"Authorization": f"Bearer {key}"}
        overview = requests.get(f"{first.api}/v2/dashboard/overview", headers=headers, timeout=10).json()
        timeline = requests.get(f"{first.api}/v2/dashboard/timeline", headers=headers, timeout=10).json()
        assert overview["breakers"] and timeline["items"]
        # When it stops (Ctrl-C)
        first.process.send_signal(signal.SIGINT)
        first.wait_for("Saved ", timeout=15)
        assert first.process.wait(timeout=15) == 0
    assert stat.S_IMODE((data / "tables").stat().st_mode) == 0o700
    # Then a second start (no --demo) has the same key, schedules, endpoints and dead letters
    with local_runtime("--data", str(data), admin_key=None) as second:
        assert f"Admin key:  {key}" in "\n".join(second.banner)
        assert "restored" in "\n".join(second.banner)
        c = Conductor(second.api, key)
        assert sorted(s["id"] for s in c.schedules.list()) == sorted(s["id"] for s in schedules)
        assert sorted(h["id"] for h in c.webhooks.list()) == sorted(h["id"] for h in hooks)
        assert set(letters) <= {d["id"] for d in c.dlq.list(limit=200)}


def test_without_data_the_banner_says_data_is_in_memory(tmp_path: Path) -> None:
    with local_runtime(admin_key=None) as runtime:
        assert "keep it with --data DIR" in "\n".join(runtime.banner)
