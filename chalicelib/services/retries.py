"""The retry engine: accept failed operations, run their attempts from SQS, give up into the
dead-letter queue. Every step is safe to repeat, because SQS delivers at least once."""
from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.headers import kept, masked_target
from chalicelib.domain.ids import new_id
from chalicelib.domain.messages import MalformedMessage, RetryAttempt, decode
from chalicelib.domain.origins import origin_of
from chalicelib.domain.retry import RetryPolicy, decide, first_delay
from chalicelib.domain.timeutil import parse_iso, to_iso, utcnow
from chalicelib.errors import (
    Conflict,
    DependencyUnavailable,
    IdempotencyKeyReused,
    NotFound,
    ValidationFailed,
)
from chalicelib.services.breakers import BreakerService
from chalicelib.services.dead_letters import DeadLetterService
from chalicelib.services.metrics import MetricsService
from chalicelib.services.targets import TargetRunner
from chalicelib.store.idempotency import IdempotencyStore
from chalicelib.store.models import RetryJobRecord
from chalicelib.store.queues import Queue
from chalicelib.store.retry_jobs import TERMINAL, RetryJobStore
from chalicelib.tracing import subsegment

log = logging.getLogger("conductor.retries")
#: How long a claimed attempt is held before another worker may take it over. Longer than the
#: attempt Lambda's timeout (60 s), shorter than the queue's visibility timeout (360 s).
LEASE_SECONDS = 120
IDEMPOTENCY_TTL = timedelta(days=7)
FINISHED_RETENTION = timedelta(days=30)
MISSING_JOB_CHECKS = 3
#: Held attempts released at once when a breaker closes (more wait for their trial time).
MAX_RELEASED = 1000
METRIC = "retries"


def job_to_dict(job: RetryJobRecord, with_attempts: bool = True) -> dict[str, Any]:
    """A job as answers show it; lists leave its attempts out (a job keeps up to 50, each with a
    2 KB excerpt: a page of them could pass Lambda's 6 MB response limit)."""
    data = {
        "id": job.id, "status": job.status, "service": job.service,
        "target": masked_target(job.target),
        "error": job.error, "retry_policy": job.policy,
        "attempt_count": int(job.attempt_count or 0), "next_attempt_at": job.next_attempt_at,
        "idempotency_key": job.idempotency_key, "workflow_id": job.workflow_id,
        "execution_id": job.execution_id, "note": job.note,
        "dead_letter_id": job.dead_letter_id, "replay_of": job.replay_of,
        "origin": origin_of(job), "created_at": job.created_at, "updated_at": job.updated_at,
        "finished_at": job.finished_at,
    }
    if with_attempts:
        data["attempts"] = job.attempts or []
    return data


def _same_request(job: RetryJobRecord, request: dict[str, Any], policy: RetryPolicy) -> bool:
    """Whether a repeat with the same idempotency key asks for the same job."""
    return (job.service == request["service"] and job.target == request["target"]
            and job.error == request["error"] and job.policy == policy.to_dict()
            and job.workflow_id == request.get("workflow_id")
            and job.execution_id == request.get("execution_id"))


class RetryService:
    def __init__(
        self,
        jobs: RetryJobStore,
        idempotency: IdempotencyStore,
        dead_letters: DeadLetterService,
        breakers: BreakerService,
        runner: TargetRunner,
        metrics: MetricsService,
        queue: Queue,
        publish: Callable[[str, dict[str, Any]], Any],
        clock: Callable[[], datetime] = utcnow,
        rand: Callable[[], float] = random.random,
        on_finished: Callable[[RetryJobRecord, bool], None] | None = None,
    ) -> None:
        self._jobs = jobs
        self._idempotency = idempotency
        self._dead_letters = dead_letters
        self._breakers = breakers
        self._runner = runner
        self._metrics = metrics
        self._queue = queue
        self._publish = publish
        self._clock = clock
        self._rand = rand
        self._on_finished = on_finished

    # --- accepting work ------------------------------------------------------------------------

    def create(self, request: dict[str, Any], replay_of: str | None = None,
               origin: dict[str, Any] | None = None) -> tuple[dict[str, Any], bool]:
        """Accept a failed operation; returns the job and whether it is new (idempotency).

        ``origin`` says who handed it over (a schedule run names itself); what reacts when the
        job ends follows from it (reactions.py), never from ids a caller could choose.
        """
        self._runner.validate(request["target"])
        kept(request["target"].get("headers"), None, "target.headers")
        now = self._clock()
        job_id = new_id("rty")
        key = request.get("idempotency_key")
        earlier = None
        if key:
            earlier = self._idempotency.claim(f"retry:{key}", job_id, to_iso(now),
                                              int((now + IDEMPOTENCY_TTL).timestamp()),
                                              int(now.timestamp()))
        policy = RetryPolicy.from_dict(request["retry_policy"])
        if key and earlier is not None:
            existing = self._jobs.get(earlier)
            if existing is not None:
                if not _same_request(existing, request, policy):
                    raise IdempotencyKeyReused(
                        f"The idempotency key {key!r} was used for a different request (job "
                        f"{existing.id}); use a new key for a new operation.", [
                            {"field": "idempotency_key",
                             "problem": "was used before with another body"}])
                return job_to_dict(existing), False
            job_id = earlier  # the first request died before writing its job: finish it
        created_at = to_iso(now)
        job = self._jobs.new(
            id=job_id, status="scheduled", service=request["service"], created_at=created_at,
            created_sk=f"{created_at}#{job_id}", updated_at=created_at, target=request["target"],
            error=request["error"], policy=policy.to_dict(), attempts=[], attempt_count=0,
            idempotency_key=key, workflow_id=request.get("workflow_id"),
            execution_id=request.get("execution_id"), replay_of=replay_of,
            origin=origin or ({"type": "replay", "dead_letter_id": replay_of} if replay_of
                              else {"type": "api"}))
        if request["error"]["type"] in policy.non_retryable:
            self._jobs.create(job)
            self._give_up(job, "non_retryable", request["error"], now)
            self._publish("error.created", {"retry_job_id": job.id, "service": job.service,
                                            "error": job.error, "next_attempt_at": None,
                                            "workflow_id": job.workflow_id})
            return job_to_dict(job), True
        delay = first_delay(policy, self._rand)
        run_at = now + timedelta(seconds=delay)
        job.next_attempt_at = to_iso(run_at)
        self._jobs.create(job)
        try:
            self._enqueue(job.id, 1, run_at, now)
        except DependencyUnavailable:
            self._jobs.delete(job.id)  # never leave a job that no message will ever run
            raise
        self._count(job.service, created=1)
        self._publish("error.created", {"retry_job_id": job.id, "service": job.service,
                                        "error": job.error, "next_attempt_at": job.next_attempt_at,
                                        "workflow_id": job.workflow_id})
        return job_to_dict(job), True

    def _enqueue(self, job_id: str, attempt: int, run_at: datetime, now: datetime,
                 checks: int = 0) -> None:
        self._queue.send(RetryAttempt(job_id, attempt, run_at, checks), run_at=run_at, now=now)

    # --- running attempts ----------------------------------------------------------------------

    def process(self, body: str) -> str:
        """Handle one message of the retries queue; returns what happened (for logs and tests).

        Raises only for infrastructure failures (the batch then returns to SQS).
        """
        try:
            message = decode(RetryAttempt, body)
        except MalformedMessage:
            log.error("dropping a malformed retries message: %.200s", body)
            return "malformed"
        job_id, attempt, run_at = message.job_id, message.attempt, message.run_at
        now = self._clock()
        job = self._jobs.get(job_id)
        if job is None:
            checks = message.missing_checks + 1
            if checks > MISSING_JOB_CHECKS:
                log.error("retry job %s never appeared; dropping its message", job_id)
                return "missing"
            self._enqueue(job_id, attempt, now + timedelta(seconds=5 * checks), now, checks)
            return "missing_requeued"
        if job.status in TERMINAL or int(job.attempt_count or 0) >= attempt:
            return "duplicate"
        if self._queue.due_later(run_at, now):
            self._enqueue(job_id, attempt, run_at, now)
            return "hop"
        if not self._jobs.claim(job, attempt, int(now.timestamp()), LEASE_SECONDS, to_iso(now)):
            current = self._jobs.get(job_id)
            if (current is not None and current.status == "running"
                    and current.lease_until is not None):
                # Someone holds this attempt now (or crashed holding it): look again after the lease.
                lease_end = datetime.fromtimestamp(float(current.lease_until) + 1, tz=now.tzinfo)
                self._enqueue(job_id, attempt, lease_end, now)
                return "leased"
            return "duplicate"
        admission = self._breakers.admit(job.service)
        if not admission.allowed:
            retry_at = datetime.fromtimestamp(admission.retry_at or now.timestamp() + 1,
                                              tz=now.tzinfo)
            self._enqueue(job_id, attempt, retry_at, now)
            self._jobs.release(job, to_iso(retry_at), to_iso(now))
            return "deferred"
        with subsegment("retry_attempt", service=job.service, retry_job_id=job.id):
            outcome = self._runner.run(job.target)
        self._breakers.record(job.service, failed=not outcome.success)
        return self._after_attempt(job, attempt, now, outcome)

    def _after_attempt(self, job: RetryJobRecord, attempt: int, started: datetime,
                       outcome: Any) -> str:
        now = self._clock()
        record = {
            "number": attempt, "started_at": to_iso(started), "finished_at": to_iso(now),
            "duration_ms": outcome.duration_ms,
            "outcome": "succeeded" if outcome.success else "failed",
            "status_code": outcome.status_code, "error_type": outcome.error_type,
            "error_message": outcome.error_message, "retry_after": outcome.retry_after,
            "response_excerpt": outcome.response_excerpt, "next_delay_seconds": None,
        }
        self._publish("error.retry", {"retry_job_id": job.id, "service": job.service,
                                      "attempt": attempt, "outcome": record["outcome"],
                                      "status_code": outcome.status_code,
                                      "error_type": outcome.error_type})
        if outcome.success:
            finished = self._jobs.finish_attempt(
                job, record, "succeeded", to_iso(now), next_attempt_at=None,
                finished_at=to_iso(now),
                expires_at=int((now + FINISHED_RETENTION).timestamp()))
            if finished:
                self._count(job.service, succeeded=1, attempts_to_success=attempt)
                self._publish("error.succeeded", {"retry_job_id": job.id, "service": job.service,
                                                  "attempts": attempt})
                self._finished(job, True)
            return "succeeded"
        error = {"type": outcome.error_type or "Error", "message": outcome.error_message or ""}
        policy = RetryPolicy.from_dict(job.policy)
        decision = decide(policy, attempt, error["type"], parse_iso(job.created_at), now,
                          self._rand, float(job.last_delay) if job.last_delay else None,
                          outcome.retry_after)
        self._count(job.service, attempts=1)
        if decision.retry:
            record["next_delay_seconds"] = round(decision.delay_seconds, 3)
            run_at = now + timedelta(seconds=decision.delay_seconds)
            self._enqueue(job.id, attempt + 1, run_at, now)  # before the job says so: none lost
            self._jobs.finish_attempt(job, record, "scheduled", to_iso(now),
                                      next_attempt_at=to_iso(run_at),
                                      last_delay=decision.delay_seconds)
            return "retrying"
        job.attempt_count = attempt
        entry = self._dead_letters.from_job(job, decision.reason or "exhausted", error)  # first
        if self._jobs.finish_attempt(
                job, record, "dead_lettered", to_iso(now), dead_letter_id=entry.id,
                next_attempt_at=None, finished_at=to_iso(now),
                expires_at=int((now + FINISHED_RETENTION).timestamp())):
            self._count(job.service, dead_lettered=1)
            self._finished(job, False)
            return "dead_lettered"
        return "resolved"

    def _finished(self, job: RetryJobRecord, succeeded: bool) -> None:
        """Tell whoever handed the job over (a schedule run) how it ended."""
        if self._on_finished is not None:
            self._on_finished(job, succeeded)

    def _give_up(self, job: RetryJobRecord, reason: str, error: dict[str, Any],
                 now: datetime) -> None:
        """A job refused at creation (its error is non-retryable): straight to dead letters."""
        entry = self._dead_letters.from_job(job, reason, error)
        self._jobs.mark_dead_lettered(job, entry.id, to_iso(now),
                                      int((now + FINISHED_RETENTION).timestamp()))
        job.status, job.dead_letter_id = "dead_lettered", entry.id
        self._count(job.service, created=1, dead_lettered=1)

    # --- people ----------------------------------------------------------------------------------

    def get(self, job_id: str) -> dict[str, Any]:
        return job_to_dict(self.require(job_id))

    def require(self, job_id: str) -> RetryJobRecord:
        job = self._jobs.get(job_id) if job_id.startswith("rty_") else None
        if job is None:
            raise NotFound(f"No retry job {job_id}.")
        return job

    def list(self, status: str | None, service: str | None, limit: int,
             before: str | None) -> tuple[list[dict[str, Any]], str | None]:
        records, last = self._jobs.list(status, service, limit, before)
        return [job_to_dict(r, with_attempts=False) for r in records], last

    def attempts(self, job_id: str, limit: int, after: int
                 ) -> tuple[list[dict[str, Any]], int | None]:
        """A page of a job's attempts, oldest first, after the first ``after`` of them."""
        attempts = self.require(job_id).attempts or []
        page = attempts[after:after + limit]
        return page, after + limit if after + limit < len(attempts) else None

    def resolve(self, job_id: str, note: str | None) -> dict[str, Any]:
        """Resolve by hand: pending attempts are cancelled (their messages find it resolved)."""
        job = self.require(job_id)
        now = self._clock()
        was = job.status
        if not self._jobs.resolve(job, note, to_iso(now),
                                  int((now + FINISHED_RETENTION).timestamp())):
            raise Conflict(f"Retry job {job_id} is {self.require(job_id).status}; "
                           "only a scheduled, running or dead-lettered job can be resolved.")
        if was == "dead_lettered" and job.dead_letter_id:
            self._dead_letters.resolve_for_job(job.dead_letter_id, note)
        self._count(job.service, resolved=1)
        self._publish("error.resolved", {"retry_job_id": job_id, "service": job.service,
                                         "note": note})
        return job_to_dict(job)

    def release_held(self, service: str) -> int:
        """The breaker of ``service`` closed: attempts it held run now, not at their old trial
        time (their delayed messages then find the attempt done and do nothing)."""
        now = self._clock()
        held = self._jobs.held_by_breaker(service, MAX_RELEASED)
        for job in held:
            self._enqueue(job.id, int(job.attempt_count or 0) + 1, now, now)
        return len(held)

    def dead_letter_resolved(self, job_id: str, note: str | None) -> None:
        """A dead letter resolved by hand settles its retry job too (if still dead-lettered)."""
        job = self._jobs.get(job_id)
        if job is None or job.status != "dead_lettered":
            return
        now = self._clock()
        if self._jobs.resolve(job, note, to_iso(now), int((now + FINISHED_RETENTION).timestamp())):
            self._count(job.service, resolved=1)

    def replay(self, entry_id: str) -> dict[str, Any]:
        """Re-run a dead letter as a new retry job, linked both ways."""
        entry = self._dead_letters.require(entry_id)
        if entry.status != "open":
            raise Conflict(f"Dead letter {entry_id} is {entry.status}, not open.")
        payload = entry.payload or {}
        if entry.source == "webhook":
            raise ValidationFailed(
                "A webhook delivery is replayed by redelivering it.", [{
                    "field": "id", "problem": "use POST /v2/webhooks/deliveries/"
                    f"{payload.get('delivery_id')}/redeliver (same webhook-id, signed again)"}])
        if entry.source == "retry_job":
            target, policy = payload["target"], payload["retry_policy"]
        else:
            queue = payload["queue"]
            # redrive: back to the Conductor queue it came from (SQS redrive's "source queue");
            # only a replay sets this, the API's target schema has no such field
            target = {"type": "sqs", "queue_url": self._queue_url_for(queue),
                      "message": payload.get("body"), "redrive": True}
            policy = RetryPolicy().to_dict()
        job, _ = self.create({
            "service": entry.service, "target": target, "error": entry.error,
            "retry_policy": {**policy, "non_retryable": []},
            "workflow_id": payload.get("workflow_id"), "execution_id": payload.get("execution_id"),
            "idempotency_key": f"replay:{entry_id}",
        }, replay_of=entry_id)
        if not self._dead_letters.mark_replayed(entry, job["id"]):
            raise Conflict(f"Dead letter {entry_id} was replayed or resolved meanwhile.")
        self._publish("error.replayed", {"dead_letter_id": entry_id, "retry_job_id": job["id"]})
        return job

    def _queue_url_for(self, queue: str) -> str:
        try:
            return self._queue.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        except ClientError as exc:
            raise ValidationFailed(f"Queue {queue} no longer exists.") from exc

    # --- numbers ---------------------------------------------------------------------------------

    def _count(self, service: str, **fields: int) -> None:
        self._metrics.count(METRIC, service, fields)  # never fails the work it describes

    def stats(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Counts by status and service, success rate, mean attempts to success: one Query."""
        totals = self._metrics.total(METRIC, start, end, "hour")
        by_service: dict[str, Counter[str]] = {}
        overall: Counter[str] = Counter()
        for field, value in totals.items():
            name, _, service = field.partition("|")
            by_service.setdefault(service, Counter())[name] += value
            overall[name] += value
        return {"from": to_iso(start), "to": to_iso(end), **_summary(overall),
                "services": {s: _summary(c) for s, c in sorted(by_service.items())}}


def _summary(counts: Counter[str]) -> dict[str, Any]:
    succeeded, dead = counts["succeeded"], counts["dead_lettered"]
    finished = succeeded + dead
    return {
        "counts": {name: int(counts[name]) for name in
                   ("created", "succeeded", "dead_lettered", "resolved")},
        "failed_attempts": int(counts["attempts"]),
        "success_rate": round(succeeded / finished, 4) if finished else None,
        "mean_attempts_to_success": round(counts["attempts_to_success"] / succeeded, 3)
        if succeeded else None,
    }
