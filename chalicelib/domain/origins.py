"""Where a retry job came from: the explicit link that decides what reacts when it ends."""

from __future__ import annotations

from typing import Any

#: the service (and breaker) name a schedule's failed run retries under: "schedule:<id>"
SCHEDULE_SERVICE = "schedule:"


def origin_of(job: Any) -> dict[str, Any]:
    """Where a retry job came from: its ``origin`` (``{"type": "api"}``, ``{"type":
    "schedule_run", "schedule_id", "execution_id"}``, ``{"type": "replay", "dead_letter_id"}``).

    Jobs stored before ``origin`` existed carry none: those a schedule run made are recognised
    the way they were made then (``workflow_id`` a schedule id, ``execution_id`` a run id).
    """
    if getattr(job, "origin", None):
        return dict(job.origin)
    if getattr(job, "replay_of", None):
        return {"type": "replay", "dead_letter_id": job.replay_of}
    workflow, execution = job.workflow_id or "", job.execution_id or ""
    if workflow.startswith("sch_") and execution.startswith("exe_"):  # legacy records only
        return {"type": "schedule_run", "schedule_id": workflow, "execution_id": execution}
    return {"type": "api"}
