"""Error recovery: ``/v2/errors/*`` (retry jobs, stats, circuit breakers), ``/v2/dlq/*`` and
their ``/v2/batch/*`` forms."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib import deps
from chalicelib.api.batch import run_batch
from chalicelib.api.http import created, cursor_for, page, position_of
from chalicelib.api.routing import ApiBlueprint
from chalicelib.domain.breaker import SERVICE_PATTERN
from chalicelib.domain.headers import masked_target
from chalicelib.errors import ValidationFailed

if TYPE_CHECKING:  # pragma: no cover
    from chalicelib.api.schemas import (
        BatchRequest,
        BreakerCommand,
        CreateRetryJob,
        ListDeadLettersQuery,
        ListRetryJobsQuery,
        Note,
        PageQuery,
        ResolveRetryJob,
        StatsQuery,
    )
    from chalicelib.domain.dead_letters import DeadLetter
    from chalicelib.domain.jobs import RetryJob

bp = ApiBlueprint(__name__)


def job_json(job: RetryJob, with_attempts: bool = True, service_name: str | None = None) -> dict[str, Any]:
    """A job as ``RetryJob`` shows it; lists leave its attempts out (a job keeps up to 50, each
    with a 2 KB excerpt: a page of them could pass Lambda's 6 MB response limit)."""
    data: dict[str, Any] = {
        "id": job.id,
        "status": job.status,
        "service": job.service,
        "service_name": service_name,
        "target": masked_target(job.target),
        "error": job.error,
        "retry_policy": job.policy,
        "attempt_count": job.attempt_count,
        "next_attempt_at": job.next_attempt_at,
        "idempotency_key": job.idempotency_key,
        "workflow_id": job.workflow_id,
        "execution_id": job.execution_id,
        "note": job.note,
        "dead_letter_id": job.dead_letter_id,
        "replay_of": job.replay_of,
        "origin": job.source(),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "finished_at": job.finished_at,
    }
    if with_attempts:
        data["attempts"] = list(job.attempts)
    return data


def dead_letter_json(entry: DeadLetter, service_name: str | None = None) -> dict[str, Any]:
    """A dead letter as ``DeadLetter`` shows it: a retry job's target headers masked (a replay
    uses the stored ones)."""
    payload = entry.payload
    if payload and isinstance(payload.get("target"), dict):
        payload = {**payload, "target": masked_target(payload["target"])}
    return {
        "id": entry.id,
        "status": entry.status,
        "source": entry.source,
        "service": entry.service,
        "service_name": service_name,
        "fingerprint": entry.fingerprint,
        "error": entry.error,
        "payload": payload,
        "attempts": entry.attempts,
        "retry_job_id": entry.retry_job_id,
        "replay_job_id": entry.replay_job_id,
        "note": entry.note,
        "created_at": entry.created_at,
        "resolved_at": entry.resolved_at,
    }


def _job_response(job: RetryJob, new: bool) -> Response:
    if new:
        return created(job_json(job), f"/v2/errors/retry/{job.id}")
    # the same key: the first job, with the attempts it made since
    return Response(body=job_json(deps.retries().with_attempts(job.id)), status_code=200)


# --- retry jobs -----------------------------------------------------------------------------------


@bp.operation(
    "POST",
    "/errors/retry",
    summary="Hand over a failed operation for retrying",
    role="operator",
    body="CreateRetryJob",
    response="RetryJob",
    status=201,
    also=(200,),
    errors=(409,),
)
def create_retry_job(body: CreateRetryJob) -> Response:
    """Hands a failed operation over to Conductor: it is retried against its target with the retry
    policy's backoff and jitter, through the service's circuit breaker, until it succeeds, gives
    up (dead letter) or reaches its deadline. An `idempotency_key` makes a repeat answer the
    first job with 200 instead of creating another."""
    request = body.model_dump(mode="json")
    header = (bp.current_request.headers or {}).get("idempotency-key")
    if header is not None:  # the IETF Idempotency-Key header, as well as the field
        if not 1 <= len(header) <= 128:
            raise ValidationFailed(
                "Invalid Idempotency-Key header.",
                [{"field": "Idempotency-Key", "problem": "must be 1-128 characters"}],
            )
        if request.get("idempotency_key") not in (None, header):
            raise ValidationFailed(
                "Two different idempotency keys.",
                [{"field": "idempotency_key", "problem": "differs from the Idempotency-Key header"}],
            )
        request["idempotency_key"] = header
    job, new = deps.retries().create(request)
    return _job_response(job, new)


@bp.operation(
    "GET",
    "/errors/retry",
    summary="Retry jobs, newest first",
    role="viewer",
    query="ListRetryJobsQuery",
    response="RetryJobPage",
)
def list_retry_jobs(query: ListRetryJobsQuery) -> dict[str, Any]:
    """Retry jobs, newest first, optionally by status and service; without their attempts."""
    items, last = deps.retries().list(
        query.status, query.service, query.limit, position_of(query, "retry-jobs")
    )
    names = deps.schedules().service_names({j.service for j in items})
    return page(
        [job_json(j, with_attempts=False, service_name=names.get(j.service)) for j in items],
        cursor_for(last, query, "retry-jobs"),
    )


@bp.operation(
    "GET",
    "/errors/retry/{job_id}",
    summary="One retry job with its attempts",
    role="viewer",
    response="RetryJob",
    errors=(404,),
)
def get_retry_job(job_id: str) -> dict[str, Any]:
    """One retry job with every attempt: when it ran, the status code or error, the response
    excerpt and the delay before the next one."""
    return job_json(deps.retries().with_attempts(job_id))


@bp.operation(
    "GET",
    "/errors/retry/{job_id}/attempts",
    summary="A retry job's attempts, oldest first",
    role="viewer",
    query="PageQuery",
    response="AttemptPage",
    errors=(404,),
)
def list_retry_attempts(job_id: str, query: PageQuery) -> dict[str, Any]:
    """A retry job's attempts, oldest first, page by page."""
    position = position_of(query, "attempts", job_id)
    after = int(position) if position and position.isdigit() else 0
    items, next_index = deps.retries().attempts(job_id, query.limit, after)
    return page(items, cursor_for(str(next_index) if next_index else None, query, "attempts", job_id))


@bp.operation(
    "POST",
    "/errors/resolve",
    summary="Resolve a retry job by hand",
    role="operator",
    body="ResolveRetryJob",
    response="RetryJob",
    errors=(404, 409),
)
def resolve_retry_job(body: ResolveRetryJob) -> dict[str, Any]:
    """Marks a retry job resolved by hand, with a note: no more attempts run, and its dead letter
    (if any) is resolved too."""
    deps.retries().resolve(body.id, body.note)
    return job_json(deps.retries().with_attempts(body.id))


@bp.operation(
    "GET",
    "/errors/stats",
    summary="Counts, success rate, attempts to success",
    role="viewer",
    query="StatsQuery",
    response="RetryStats",
)
def retry_stats(query: StatsQuery) -> dict[str, Any]:
    """Retry counts, success rate and mean attempts to success over a range (default: the last 24
    hours), in all and by service."""
    now = deps.clock()
    end = min(query.to or now, now)
    start = query.from_ or end - timedelta(hours=24)
    if start > end or end - start > timedelta(days=90):
        raise ValidationFailed(
            "Invalid time range.",
            [{"field": "from", "problem": "must be before 'to' and at most 90 days earlier"}],
        )
    return deps.retries().stats(start, end)


# --- circuit breakers -------------------------------------------------------------------------------


@bp.operation(
    "GET",
    "/errors/circuit-breakers",
    summary="Every service's circuit breaker",
    role="viewer",
    query="PageQuery",
    response="BreakerPage",
)
def list_breakers(query: PageQuery) -> dict[str, Any]:
    """Every service's circuit breaker: state, the window of recent outcomes, when it opened and
    when the next trial is due."""
    items, last = deps.breakers().list(query.limit, position_of(query, "breakers"))
    return page(items, cursor_for(last, query, "breakers"))


@bp.operation(
    "GET",
    "/errors/circuit-breaker/{service}",
    summary="One service's breaker",
    role="viewer",
    response="Breaker",
)
def get_breaker(service: str) -> dict[str, Any]:
    """One service's circuit breaker. A service that never had a call answers a closed breaker."""
    return deps.breakers().describe(_service(service))


@bp.operation(
    "POST",
    "/errors/circuit-breaker/{service}",
    summary="Reset, force open or force close a breaker",
    role="operator",
    body="BreakerCommand",
    response="Breaker",
    errors=(409,),
)
def command_breaker(service: str, body: BreakerCommand) -> dict[str, Any]:
    """Resets a breaker (closed, empty window), forces it open (every call held) or forces it
    closed (every call let through) until it is reset."""
    return deps.breakers().command(_service(service), body.action)


def _service(service: str) -> str:
    if not re.match(SERVICE_PATTERN, service):
        raise ValidationFailed(
            "Invalid service name.", [{"field": "service", "problem": "1-64 of A-Z a-z 0-9 _ . : -"}]
        )
    return service


# --- dead letters ------------------------------------------------------------------------------------


@bp.operation(
    "GET",
    "/dlq",
    summary="Dead letters, newest first (one fingerprint = one group)",
    role="viewer",
    query="ListDeadLettersQuery",
    response="DeadLetterPage",
)
def list_dead_letters(query: ListDeadLettersQuery) -> dict[str, Any]:
    """Dead letters, newest first: by status (default `open`), source, service or fingerprint (one
    fingerprint is one group of the same failure)."""
    items, last = deps.dead_letters().list(
        query.status,
        query.fingerprint,
        query.source,
        query.service,
        query.limit,
        position_of(query, "dead-letters"),
    )
    names = deps.schedules().service_names({e.service for e in items})
    return page(
        [dead_letter_json(e, names.get(e.service)) for e in items], cursor_for(last, query, "dead-letters")
    )


@bp.operation(
    "GET",
    "/dlq/{dead_letter_id}",
    summary="One dead letter",
    role="viewer",
    response="DeadLetter",
    errors=(404,),
)
def get_dead_letter(dead_letter_id: str) -> dict[str, Any]:
    """One dead letter: the failure, the payload that can be replayed and what happened to it."""
    return dead_letter_json(deps.dead_letters().require(dead_letter_id))


@bp.operation(
    "POST",
    "/dlq/{dead_letter_id}/replay",
    summary="Re-run as a new retry job",
    role="operator",
    response="RetryJob",
    status=201,
    errors=(404, 409),
)
def replay_dead_letter(dead_letter_id: str) -> Response:
    """Runs an open dead letter again as a new retry job (linked both ways); the dead letter
    becomes `replayed`. Replayed once only."""
    job = deps.retries().replay(dead_letter_id)
    return created(job_json(job), f"/v2/errors/retry/{job.id}")


@bp.operation(
    "POST",
    "/dlq/{dead_letter_id}/resolve",
    summary="Resolve by hand, with a note",
    role="operator",
    body="Note",
    response="DeadLetter",
    errors=(404, 409),
)
def resolve_dead_letter(dead_letter_id: str, body: Note) -> dict[str, Any]:
    """Closes an open dead letter without running it again, with a note."""
    return dead_letter_json(deps.dead_letters().resolve(dead_letter_id, body.note))


# --- batches -----------------------------------------------------------------------------------------


@bp.operation(
    "POST",
    "/batch/errors/retry",
    summary="Hand over up to 100 failed operations",
    role="operator",
    rate_class="batch",
    body="BatchRequest",
    response="BatchResult",
)
def batch_create_retry_jobs(body: BatchRequest) -> dict[str, Any]:
    """Up to 100 retry jobs at once; each item is the body of `POST /v2/errors/retry` and is
    answered on its own in `results`."""
    return run_batch(
        body.items, "CreateRetryJob", lambda item: deps.retries().create(item.model_dump(mode="json"))[0].id
    )


@bp.operation(
    "POST",
    "/batch/errors/resolve",
    summary="Resolve up to 100 retry jobs",
    role="operator",
    rate_class="batch",
    body="BatchRequest",
    response="BatchResult",
)
def batch_resolve_retry_jobs(body: BatchRequest) -> dict[str, Any]:
    """Resolves up to 100 retry jobs, each with its own note and result."""
    return run_batch(
        body.items, "ResolveRetryJob", lambda item: deps.retries().resolve(item.id, item.note).id
    )


@bp.operation(
    "POST",
    "/batch/dlq/resolve",
    summary="Resolve up to 100 dead letters",
    role="operator",
    rate_class="batch",
    body="BatchRequest",
    response="BatchResult",
)
def batch_resolve_dead_letters(body: BatchRequest) -> dict[str, Any]:
    """Resolves up to 100 dead letters, each with its own note and result."""
    return run_batch(
        body.items, "DeadLetterRef", lambda item: deps.dead_letters().resolve(item.id, item.note).id
    )


@bp.operation(
    "POST",
    "/batch/dlq/replay",
    summary="Replay up to 100 dead letters",
    role="operator",
    rate_class="batch",
    body="BatchRequest",
    response="BatchResult",
)
def batch_replay_dead_letters(body: BatchRequest) -> dict[str, Any]:
    """Replays up to 100 dead letters; each result names the new retry job."""
    return run_batch(body.items, "DeadLetterRef", lambda item: deps.retries().replay(item.id).id)
