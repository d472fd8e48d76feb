"""``/v2/schedules``: definitions, pause/resume, manual runs, backfill, history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib import deps
from chalicelib.api.batch import run_batch
from chalicelib.api.http import created, cursor_for, page, position_of
from chalicelib.api.routing import ApiBlueprint
from chalicelib.domain.headers import masked_target
from chalicelib.domain.timeutil import to_iso
from chalicelib.errors import ValidationFailed

if TYPE_CHECKING:  # pragma: no cover
    from chalicelib.api.schemas import (
        Backfill,
        BatchRequest,
        ListSchedulesQuery,
        Note,
        PageQuery,
        ScheduleBody,
        SchedulePreview,
        UpdateSchedule,
    )
    from chalicelib.domain.schedule import Execution, Schedule

bp = ApiBlueprint(__name__)


def schedule_json(schedule: Schedule) -> dict[str, Any]:
    """A schedule as ``Schedule`` shows it: target headers masked, its next 5 runs, counters."""
    next_runs = schedule.next_starts(deps.clock(), 5)  # when they will start, offsets in
    return {
        "id": schedule.id,
        "name": schedule.name,
        "description": schedule.description,
        "expression": schedule.expression,
        "expression_words": schedule.expression_words,
        "timezone": schedule.timezone,
        "start_at": schedule.start_at,
        "end_at": schedule.end_at,
        "jitter_seconds": schedule.jitter_seconds,
        "overlap_policy": schedule.overlap_policy,
        "catchup": schedule.catchup,
        "catchup_window_seconds": schedule.catchup_window_seconds,
        "enabled": schedule.enabled,
        "paused_note": schedule.paused_note,
        "target": masked_target(schedule.target),
        "retry_policy": schedule.retry_policy,
        "tags": list(schedule.tags),
        "version": schedule.version,
        "pause_after_failures": schedule.pause_after_failures,
        "flexible_time_window": (
            {"mode": "FLEXIBLE", "maximum_window_minutes": schedule.flexible_window_minutes}
            if schedule.flexible_window_minutes
            else {"mode": "OFF"}
        ),
        "action_after_completion": schedule.action_after_completion or "none",
        "remaining_actions": schedule.remaining_actions,
        "history_limits": schedule.history_limits,
        "next_runs": [to_iso(t) for t in next_runs],
        "counters": {
            "runs": schedule.runs,
            "failures": schedule.failures,
            "running": schedule.running,
            "last_run_at": schedule.last_run_at,
            "last_success_at": schedule.last_success_at,
            "last_failure_at": schedule.last_failure_at,
            "consecutive_failures": schedule.failure_streak,
        },
        "created_at": schedule.created_at,
        "updated_at": schedule.updated_at,
    }


def execution_json(execution: Execution) -> dict[str, Any]:
    """A run as ``Execution`` shows it."""
    return {
        "id": execution.id,
        "schedule_id": execution.schedule_id,
        "scheduled_for": execution.scheduled_for,
        "trigger": execution.trigger,
        "status": execution.status,
        "started_at": execution.started_at,
        "finished_at": execution.finished_at,
        "duration_ms": execution.duration_ms,
        "status_code": execution.status_code,
        "error": execution.error,
        "retry_job_id": execution.retry_job_id,
        "note": execution.note,
        "start_offset_seconds": int(execution.start_offset_seconds or 0),
        "overlap_policy": execution.overlap_policy,
        "start_delay_ms": execution.start_delay_ms(),
        "created_at": execution.created_at,
    }


@bp.operation(
    "POST",
    "/schedules",
    summary="Create a schedule",
    role="operator",
    body="ScheduleBody",
    response="Schedule",
    status=201,
)
def create_schedule(body: ScheduleBody) -> Response:
    """Creates a cron, rate or one-time (`at(...)`) schedule in an IANA time zone. Each due run
    calls the target; a failed run is retried by the retry policy; missed runs follow the
    catch-up policy; overlapping runs follow the overlap policy. Answers the next 5 run times."""
    schedule = deps.schedules().create(body.model_dump(mode="json"))
    deps.scheduler().hand_on_if_soon(schedule)  # a first run before the next tick: sent now
    return created(schedule_json(schedule), f"/v2/schedules/{schedule.id}")


@bp.operation(
    "POST",
    "/schedules/preview",
    summary="The next run times of an expression",
    role="viewer",
    rate_class="read",
    body="SchedulePreview",
    response="NextRuns",
)
def preview_schedule(body: SchedulePreview) -> dict[str, Any]:
    """The next run times of an expression in a time zone, without creating anything: check an
    expression before you save it."""
    runs, words = deps.schedules().preview(body.model_dump(mode="json"))
    return {"next_runs": runs, "expression_words": words}


@bp.operation(
    "GET",
    "/schedules",
    summary="Schedules, newest first",
    role="viewer",
    query="ListSchedulesQuery",
    response="SchedulePage",
)
def list_schedules(query: ListSchedulesQuery) -> dict[str, Any]:
    """Schedules, newest first, optionally enabled or paused only, or with a tag."""
    items, last = deps.schedules().list(
        query.enabled, query.tag, query.limit, position_of(query, "schedules")
    )
    return page([schedule_json(s) for s in items], cursor_for(last, query, "schedules"))


@bp.operation(
    "GET",
    "/schedules/{schedule_id}",
    summary="One schedule and its next 5 runs",
    role="viewer",
    response="Schedule",
    errors=(404,),
)
def get_schedule(schedule_id: str) -> Response:
    """One schedule, its next 5 runs and its counters. `ETag` is its version, for a conditional
    update."""
    schedule = deps.schedules().require(schedule_id)
    return Response(body=schedule_json(schedule), headers={"ETag": f'"{schedule.version}"'})


@bp.operation(
    "PUT",
    "/schedules/{schedule_id}",
    summary="Replace a schedule (optimistic: `version` or If-Match)",
    role="operator",
    body="UpdateSchedule",
    response="Schedule",
    errors=(404, 409),
)
def update_schedule(schedule_id: str, body: UpdateSchedule) -> Response:
    """Replaces a schedule. Send its `version` (or `If-Match: <version>`): a schedule changed since
    you read it answers 409 instead of losing the other change."""
    expected = body.version
    if_match = (bp.current_request.headers.get("if-match") or "").strip().strip('"')
    if if_match:
        if not if_match.isdigit() or (expected is not None and int(if_match) != expected):
            raise ValidationFailed(
                "If-Match must be the schedule's version.",
                [{"field": "If-Match", "problem": "a version number that agrees with 'version'"}],
            )
        expected = int(if_match)
    fields = body.model_dump(mode="json", exclude={"version"})
    schedule = deps.schedules().update(schedule_id, fields, expected)
    deps.scheduler().hand_on_if_soon(schedule)
    return Response(body=schedule_json(schedule), headers={"ETag": f'"{schedule.version}"'})


@bp.operation(
    "DELETE",
    "/schedules/{schedule_id}",
    summary="Delete a schedule (no more runs)",
    role="operator",
    status=204,
    errors=(404,),
)
def delete_schedule(schedule_id: str) -> Response:
    """Deletes a schedule; no more runs start. Its history stays readable until it expires."""
    deps.schedules().delete(schedule_id)
    return Response(body="", status_code=204)


@bp.operation(
    "POST",
    "/schedules/{schedule_id}/pause",
    summary="Pause, with a note",
    role="operator",
    body="Note",
    response="Schedule",
    errors=(404, 409),
)
def pause_schedule(schedule_id: str, body: Note) -> dict[str, Any]:
    """Pauses a schedule, with a note saying why; no runs start until it is resumed."""
    return schedule_json(deps.schedules().set_enabled(schedule_id, False, body.note))


@bp.operation(
    "POST",
    "/schedules/{schedule_id}/resume",
    summary="Resume",
    role="operator",
    response="Schedule",
    errors=(404, 409),
)
def resume_schedule(schedule_id: str) -> dict[str, Any]:
    """Resumes a paused schedule from now; runs missed while paused are not made up."""
    schedule = deps.schedules().set_enabled(schedule_id, True, None)
    deps.scheduler().hand_on_if_soon(schedule)
    return schedule_json(schedule)


@bp.operation(
    "POST",
    "/schedules/{schedule_id}/execute",
    summary="Run now",
    role="operator",
    response="Execution",
    status=202,
    errors=(404,),
)
def execute_schedule(schedule_id: str) -> dict[str, Any]:
    """Runs a schedule now (trigger `manual`), whatever its next time; the run appears in the
    history."""
    return execution_json(deps.scheduler().execute_now(schedule_id))


@bp.operation(
    "POST",
    "/schedules/{schedule_id}/backfill",
    summary="Run the times of a past range (at most 100 runs, 31 days)",
    role="operator",
    body="Backfill",
    response="BackfillResult",
    status=202,
    errors=(404,),
)
def backfill_schedule(schedule_id: str, body: Backfill) -> dict[str, Any]:
    """Runs the times a schedule would have run in a past range (at most 100 runs in 31 days),
    trigger `backfill`."""
    return {
        "executions": [
            execution_json(e)
            for e in deps.scheduler().backfill(schedule_id, body.from_, body.to, body.overlap_policy)
        ]
    }


@bp.operation(
    "GET",
    "/schedules/{schedule_id}/history",
    summary="Runs, newest first",
    role="viewer",
    query="PageQuery",
    response="ExecutionPage",
    errors=(404,),
)
def schedule_history(schedule_id: str, query: PageQuery) -> dict[str, Any]:
    """A schedule's runs, newest first: status, trigger, timing, status code, error and the retry
    job of a failed run."""
    items, last = deps.schedules().history(
        schedule_id, query.limit, position_of(query, "history", schedule_id)
    )
    return page([execution_json(e) for e in items], cursor_for(last, query, "history", schedule_id))


@bp.operation(
    "POST",
    "/batch/schedules/execute",
    summary="Run up to 100 schedules now",
    role="operator",
    rate_class="batch",
    body="BatchRequest",
    response="BatchResult",
)
def batch_execute_schedules(body: BatchRequest) -> dict[str, Any]:
    """Runs up to 100 schedules now, each answered on its own."""
    return run_batch(body.items, "ScheduleRef", lambda item: deps.scheduler().execute_now(item.id).id)


@bp.operation(
    "POST",
    "/batch/schedules/pause",
    summary="Pause up to 100 schedules",
    role="operator",
    rate_class="batch",
    body="BatchRequest",
    response="BatchResult",
)
def batch_pause_schedules(body: BatchRequest) -> dict[str, Any]:
    """Pauses up to 100 schedules, each with its own optional note (`{"id", "note"}`) and result;
    a paused one stays paused (its note replaced)."""
    return run_batch(
        body.items, "SchedulePause", lambda item: deps.schedules().set_enabled(item.id, False, item.note).id
    )


@bp.operation(
    "POST",
    "/batch/schedules/resume",
    summary="Resume up to 100 schedules",
    role="operator",
    rate_class="batch",
    body="BatchRequest",
    response="BatchResult",
)
def batch_resume_schedules(body: BatchRequest) -> dict[str, Any]:
    """Resumes up to 100 schedules (`{"id"}`) from now, each answered on its own."""
    return run_batch(
        body.items, "ScheduleRef", lambda item: deps.schedules().set_enabled(item.id, True, None).id
    )
