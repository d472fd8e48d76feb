"""The retry engine: accept failed operations, run their attempts from SQS, give up into the
dead-letter queue. Every step is safe to repeat, because SQS delivers at least once."""

from __future__ import annotations

import dataclasses
import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.breaker import BreakerState
from chalicelib.domain.headers import kept
from chalicelib.domain.ids import new_id
from chalicelib.domain.jobs import RetryJob
from chalicelib.domain.messages import RetryAttempt
from chalicelib.domain.retry import RetryPolicy, first_delay
from chalicelib.domain.timeutil import parse_iso, to_iso, utcnow
from chalicelib.errors import (
    Conflict,
    DependencyUnavailable,
    IdempotencyKeyReused,
    NotFound,
    ValidationFailed,
)
from chalicelib.services.attempts import AttemptEngine, Result, Work
from chalicelib.services.breakers import BreakerService
from chalicelib.services.dead_letters import DeadLetterService
from chalicelib.services.events import EventBus
from chalicelib.services.metrics import MetricsService
from chalicelib.services.targets import TargetRunner
from chalicelib.store.common import transact
from chalicelib.store.idempotency import IdempotencyStore
from chalicelib.store.retry_jobs import RetryJobStore
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


def _same_request(job: RetryJob, request: dict[str, Any], policy: RetryPolicy) -> bool:
    """Whether a repeat with the same idempotency key asks for the same job."""
    return (
        job.service == request["service"]
        and job.target == request["target"]
        and job.error == request["error"]
        and job.policy == policy.to_dict()
        and job.workflow_id == request.get("workflow_id")
        and job.execution_id == request.get("execution_id")
    )


def _created(job: RetryJob) -> dict[str, Any]:
    """The ``error.created`` event's data."""
    return {
        "retry_job_id": job.id,
        "service": job.service,
        "error": job.error,
        "next_attempt_at": job.next_attempt_at,
        "workflow_id": job.workflow_id,
    }


@dataclass
class _Claimed:
    """One message's job (the claimed version once claimed), and the breaker state that let
    its attempt through (recorded into without reading it again)."""

    job: RetryJob
    breaker: BreakerState | None = None


class RetryWork(Work[RetryAttempt, _Claimed]):
    """The executor: what a retry attempt is, for the attempt engine."""

    message = RetryAttempt
    name = "retries"
    claim_first = True  # no gate before the claim: one write answers the job

    def __init__(self, owner: RetryService) -> None:
        self._o = owner

    def load(self, message: RetryAttempt) -> _Claimed | None:
        job = self._o.jobs.get(message.job_id)
        return _Claimed(job) if job is not None else None

    def missing(self, message: RetryAttempt, now: datetime) -> str:
        """Not there yet (its write may still be on its way): look again a few times."""
        checks = message.missing_checks + 1
        if checks > MISSING_JOB_CHECKS:
            log.error("retry job %s never appeared; dropping its message", message.job_id)
            return "missing"
        run_at = now + timedelta(seconds=5 * checks)
        self._o.engine.queue.send(message.again(message.attempt, run_at, checks), run_at=run_at, now=now)
        return "missing_requeued"

    def done(self, item: _Claimed, message: RetryAttempt, now: datetime) -> bool:
        return item.job.finished or item.job.attempt_count >= message.attempt

    def claim_message(self, message: RetryAttempt, now: datetime, token: str) -> _Claimed | None:
        claimed = self._o.jobs.claim(
            message.job_id,
            message.attempt,
            int(now.timestamp()),
            LEASE_SECONDS,
            to_iso(now),
            message.service,
            token,
        )
        return _Claimed(claimed) if claimed is not None else None

    def holds(self, item: _Claimed, message: RetryAttempt, token: str) -> bool:
        job = item.job
        return job.status == "running" and job.claimed_attempt == message.attempt and job.claim_token == token

    def lost_claim(self, item: _Claimed, message: RetryAttempt, now: datetime) -> str:
        """``item`` was read after the claim failed: it says who holds the attempt."""
        job = item.job
        if job.status == "scheduled" and job.attempt_count == message.attempt - 1:
            # The previous attempt was recorded between our claim and this read (its next
            # message is sent before it records: none is lost): ours is claimable now.
            self._o.engine.later(message, now, now)
            return "requeued"
        lease_end = job.lease_end(now.tzinfo)
        if lease_end is None:
            return "duplicate"
        # Someone holds this attempt now (or crashed holding it): look again after the lease.
        self._o.engine.later(message, lease_end, now)
        return "leased"

    def after_claim(self, item: _Claimed, message: RetryAttempt, now: datetime) -> str | None:
        admission = self._o.breakers.admit(item.job.service)
        if admission.allowed:
            item.breaker = admission.state
            return None
        retry_at = datetime.fromtimestamp(admission.retry_at or now.timestamp() + 1, tz=now.tzinfo)
        self._o.engine.later(message, retry_at, now)
        self._o.jobs.release(item.job, to_iso(retry_at), to_iso(now))
        return "deferred"

    def run(self, item: _Claimed, message: RetryAttempt, now: datetime) -> str:
        o, job = self._o, item.job
        with subsegment("retry_attempt", service=job.service, retry_job_id=job.id):
            outcome = o.runner.run(job.target)
        o.breakers.record(job.service, failed=not outcome.success, known=item.breaker)
        finished = o.clock()
        record = {
            "number": message.attempt,
            "started_at": to_iso(now),
            "finished_at": to_iso(finished),
            "duration_ms": outcome.duration_ms,
            "outcome": "succeeded" if outcome.success else "failed",
            "status_code": outcome.status_code,
            "error_type": outcome.error_type,
            "error_message": outcome.error_message,
            "retry_after": outcome.retry_after,
            "response_excerpt": outcome.response_excerpt,
            "next_delay_seconds": None,
        }
        o.publish(
            "error.retry",
            {
                "retry_job_id": job.id,
                "service": job.service,
                "attempt": message.attempt,
                "outcome": record["outcome"],
                "status_code": outcome.status_code,
                "error_type": outcome.error_type,
            },
        )
        error = (
            None
            if outcome.success
            else {"type": outcome.error_type or "Error", "message": outcome.error_message or ""}
        )
        if error is not None:
            o.count(job.service, attempts=1)
        return o.engine.settle(
            self, item, message, Result(outcome.success, record, error, outcome.retry_after), finished
        )

    def policy(self, item: _Claimed) -> RetryPolicy:
        return item.job.retry_policy

    def created_at(self, item: _Claimed) -> datetime:
        return parse_iso(item.job.created_at)

    def last_delay(self, item: _Claimed) -> float | None:
        return item.job.last_delay

    def succeeded(self, item: _Claimed, message: RetryAttempt, result: Result, now: datetime) -> str:
        o, job = self._o, item.job
        if o.jobs.finish_attempt(
            job,
            result.record,
            "succeeded",
            to_iso(now),
            next_attempt_at=None,
            finished_at=to_iso(now),
            expires_at=int((now + FINISHED_RETENTION).timestamp()),
        ):
            o.count(job.service, succeeded=1, attempts_to_success=message.attempt)
            o.publish(
                "error.succeeded",
                {"retry_job_id": job.id, "service": job.service, "attempts": message.attempt},
            )
            o.finished(job, True)
        return "succeeded"

    def retrying(
        self,
        item: _Claimed,
        message: RetryAttempt,
        result: Result,
        delay: float,
        run_at: datetime,
        now: datetime,
    ) -> str:
        record = {**result.record, "next_delay_seconds": round(delay, 3)}
        self._o.jobs.finish_attempt(
            item.job, record, "scheduled", to_iso(now), next_attempt_at=to_iso(run_at), last_delay=delay
        )
        return "retrying"

    def gave_up(
        self, item: _Claimed, message: RetryAttempt, result: Result, reason: str, now: datetime
    ) -> str:
        o = self._o
        job = dataclasses.replace(item.job, attempt_count=message.attempt)
        entry = o.dead_letters.from_job(job, reason, result.error or {})  # first: none lost
        if o.jobs.finish_attempt(
            job,
            result.record,
            "dead_lettered",
            to_iso(now),
            dead_letter_id=entry.id,
            next_attempt_at=None,
            finished_at=to_iso(now),
            expires_at=int((now + FINISHED_RETENTION).timestamp()),
        ):
            o.count(job.service, dead_lettered=1)
            o.finished(job, False)
            return "dead_lettered"
        return "resolved"


class RetryService:
    def __init__(
        self,
        jobs: RetryJobStore,
        idempotency: IdempotencyStore,
        dead_letters: DeadLetterService,
        breakers: BreakerService,
        runner: TargetRunner,
        metrics: MetricsService,
        engine: AttemptEngine,
        events: Callable[[], EventBus],
        clock: Callable[[], datetime] = utcnow,
        rand: Callable[[], float] = random.random,
        on_finished: Callable[[RetryJob, bool], None] | None = None,
    ) -> None:
        self.jobs = jobs
        self._idempotency = idempotency
        self.dead_letters = dead_letters
        self.breakers = breakers
        self.runner = runner
        self._metrics = metrics
        self.engine = engine
        self._events = events
        self.clock = clock
        self._rand = rand
        self._on_finished = on_finished
        self._work = RetryWork(self)

    # --- accepting work ------------------------------------------------------------------------

    def create(
        self, request: dict[str, Any], replay_of: str | None = None, origin: dict[str, Any] | None = None
    ) -> tuple[RetryJob, bool]:
        """Accept a failed operation; returns the job and whether it is new (idempotency).

        ``origin`` says who handed it over (a schedule run names itself); what reacts when the
        job ends follows from it (reactions.py), never from ids a caller could choose.
        """
        self.runner.validate(request["target"])
        kept(request["target"].get("headers"), None, "target.headers")
        now = self.clock()
        key = request.get("idempotency_key")
        policy = RetryPolicy.from_dict(request["retry_policy"])
        created_at = to_iso(now)
        job = RetryJob(
            id=new_id("rty"),
            status="scheduled",
            service=request["service"],
            created_at=created_at,
            updated_at=created_at,
            target=request["target"],
            error=request["error"],
            policy=policy.to_dict(),
            idempotency_key=key,
            workflow_id=request.get("workflow_id"),
            execution_id=request.get("execution_id"),
            replay_of=replay_of,
            origin=origin
            or ({"type": "replay", "dead_letter_id": replay_of} if replay_of else {"type": "api"}),
        )
        refused = request["error"]["type"] in policy.non_retryable
        if not refused:  # its first attempt's time (a refused job has none)
            run_at = now + timedelta(seconds=first_delay(policy, self._rand))
            job = dataclasses.replace(job, next_attempt_at=to_iso(run_at))
        claim = key is not None
        for _ in range(2):  # bounded: a second round only remakes a job its key outlived
            # the job, its key and (for a job that will run) its event: one transaction
            staged = None if refused else self._events().stage("error.created", _created(job))
            writes = [self.jobs.create_write(job)] + ([staged.write] if staged else [])
            if claim:
                writes.insert(
                    0,
                    self._idempotency.claim_write(
                        f"retry:{key}",
                        job.id,
                        created_at,
                        int((now + IDEMPOTENCY_TTL).timestamp()),
                        int(now.timestamp()),
                    ),
                )
            failed = transact(writes, "retry jobs")
            if failed is not None and self.jobs.get(job.id) is not None:
                # the job (a new id) exists: this transaction was applied and only its answer
                # was lost; the SDK's retry met its own writes
                log.info("retry job %s: its transaction's answer was lost; it was written", job.id)
                failed = None
            if failed is None:
                break
            if failed == "job":
                raise Conflict(f"Retry job {job.id} exists already.")
            # the key was used before: answer what it made
            earlier = self._idempotency.result_of(f"retry:{key}")
            existing = self.jobs.get(earlier) if earlier is not None else None
            if existing is not None:
                if not _same_request(existing, request, policy):
                    raise IdempotencyKeyReused(
                        f"The idempotency key {key!r} was used for a different request (job "
                        f"{existing.id}); use a new key for a new operation.",
                        [{"field": "idempotency_key", "problem": "was used before with another body"}],
                    )
                return existing, False
            # the key's job is gone (it expired before its key): make it again under that id
            job, claim = dataclasses.replace(job, id=earlier or job.id), earlier is None
        else:
            raise Conflict(f"The idempotency key {key!r} is being used by another request.")
        if refused:
            job = self._give_up(job, "non_retryable", request["error"], now)
            self.publish("error.created", _created(job))
            return job, True
        assert staged is not None
        try:
            self.engine.queue.send(
                RetryAttempt(job.id, 1, run_at, service=job.service), run_at=run_at, now=now
            )
            self._events().published(staged)
        except DependencyUnavailable:
            # The job is written, and due at run_at in the by-due index: the reconciler sends
            # its first attempt once that is overdue. Accepted is the truth; an undo could
            # itself fail and leave a key that answers a job never made.
            log.warning(
                "retry job %s: its first message could not be sent now; the reconciler sends it", job.id
            )
        self.count(job.service, created=1)
        return job, True

    def publish(self, event_type: str, data: dict[str, Any]) -> None:
        self._events().publish(event_type, data)

    # --- running attempts ----------------------------------------------------------------------

    def process(self, body: str) -> str:
        """Handle one message of the retries queue; returns what happened (for logs and tests).

        Raises only for infrastructure failures (the batch then returns to SQS).
        """
        return self.engine.handle(self._work, body)

    def finished(self, job: RetryJob, succeeded: bool) -> None:
        """Tell whoever handed the job over (a schedule run) how it ended."""
        if self._on_finished is not None:
            self._on_finished(job, succeeded)

    def _give_up(self, job: RetryJob, reason: str, error: dict[str, Any], now: datetime) -> RetryJob:
        """A job refused at creation (its error is non-retryable): straight to dead letters."""
        entry = self.dead_letters.from_job(job, reason, error)
        self.count(job.service, created=1, dead_lettered=1)
        return self.jobs.mark_dead_lettered(
            job, entry.id, to_iso(now), int((now + FINISHED_RETENTION).timestamp())
        )

    # --- people ----------------------------------------------------------------------------------

    def require(self, job_id: str) -> RetryJob:
        job = self.jobs.get(job_id) if job_id.startswith("rty_") else None
        if job is None:
            raise NotFound(f"No retry job {job_id}.")
        return job

    def list(
        self, status: str | None, service: str | None, limit: int, before: str | None
    ) -> tuple[list[RetryJob], str | None]:
        return self.jobs.list(status, service, limit, before)

    def attempts(self, job_id: str, limit: int, after: int) -> tuple[list[dict[str, Any]], int | None]:
        """A page of a job's attempts, oldest first, after the first ``after`` of them."""
        return self.jobs.attempts(self.require(job_id), after, limit)

    def with_attempts(self, job_id: str) -> RetryJob:
        """The job and every attempt it made (at most the policy's 50: one Query)."""
        job = self.require(job_id)
        return dataclasses.replace(job, attempts=tuple(self.jobs.attempts(job, 0, None)[0]))

    def resolve(self, job_id: str, note: str | None) -> RetryJob:
        """Resolve by hand: pending attempts are cancelled (their messages find it resolved)."""
        job = self.require(job_id)
        now = self.clock()
        resolved = self.jobs.resolve(job, note, to_iso(now), int((now + FINISHED_RETENTION).timestamp()))
        if resolved is None:
            raise Conflict(
                f"Retry job {job_id} is {self.require(job_id).status}; "
                "only a scheduled, running or dead-lettered job can be resolved."
            )
        if job.status == "dead_lettered" and job.dead_letter_id:
            self.dead_letters.resolve_for_job(job.dead_letter_id, note)
        self.count(job.service, resolved=1)
        self.publish("error.resolved", {"retry_job_id": job_id, "service": job.service, "note": note})
        return resolved

    def release_held(self, service: str) -> int:
        """The breaker of ``service`` closed: attempts it held run now, not at their old trial
        time (their delayed messages then find the attempt done and do nothing)."""
        now = self.clock()
        held = self.jobs.held_by_breaker(service, MAX_RELEASED)
        for job in held:
            self.engine.queue.send(
                RetryAttempt(job.id, job.attempt_count + 1, now, service=job.service), run_at=now, now=now
            )
        return len(held)

    def dead_letter_resolved(self, job_id: str, note: str | None) -> None:
        """A dead letter resolved by hand settles its retry job too (if still dead-lettered)."""
        job = self.jobs.get(job_id)
        if job is None or job.status != "dead_lettered":
            return
        now = self.clock()
        if self.jobs.resolve(job, note, to_iso(now), int((now + FINISHED_RETENTION).timestamp())) is not None:
            self.count(job.service, resolved=1)

    def replay(self, entry_id: str) -> RetryJob:
        """Re-run a dead letter as a new retry job, linked both ways."""
        entry = self.dead_letters.require(entry_id)
        if entry.status != "open":
            raise Conflict(f"Dead letter {entry_id} is {entry.status}, not open.")
        payload = entry.payload or {}
        if entry.source == "webhook":
            raise ValidationFailed(
                "A webhook delivery is replayed by redelivering it.",
                [
                    {
                        "field": "id",
                        "problem": "use POST /v2/webhooks/deliveries/"
                        f"{payload.get('delivery_id')}/redeliver (same webhook-id, signed again)",
                    }
                ],
            )
        if entry.source == "retry_job":
            target, policy = payload["target"], payload["retry_policy"]
        else:
            queue = payload["queue"]
            # redrive: back to the Conductor queue it came from (SQS redrive's "source queue");
            # only a replay sets this, the API's target schema has no such field
            target = {
                "type": "sqs",
                "queue_url": self._queue_url_for(queue),
                "message": payload.get("body"),
                "redrive": True,
            }
            policy = RetryPolicy().to_dict()
        job, _ = self.create(
            {
                "service": entry.service,
                "target": target,
                "error": entry.error,
                "retry_policy": {**policy, "non_retryable": []},
                "workflow_id": payload.get("workflow_id"),
                "execution_id": payload.get("execution_id"),
                "idempotency_key": f"replay:{entry_id}",
            },
            replay_of=entry_id,
        )
        if not self.dead_letters.mark_replayed(entry, job.id):
            raise Conflict(f"Dead letter {entry_id} was replayed or resolved meanwhile.")
        self.publish("error.replayed", {"dead_letter_id": entry_id, "retry_job_id": job.id})
        return job

    def _queue_url_for(self, queue: str) -> str:
        try:
            return self.engine.queue.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        except ClientError as exc:
            raise ValidationFailed(f"Queue {queue} no longer exists.") from exc

    # --- numbers ---------------------------------------------------------------------------------

    def count(self, service: str, **fields: int) -> None:
        self._metrics.count(METRIC, service, fields)  # never fails the work it describes

    def stats(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Counts by status and service, success rate, mean attempts to success: two Queries."""
        overall, by_service, _ = self._metrics.by_subject(METRIC, start, end)
        return {
            "from": to_iso(start),
            "to": to_iso(end),
            **_summary(overall),
            "services": {s: _summary(c) for s, c in sorted(by_service.items())},
        }


def _summary(counts: Counter[str]) -> dict[str, Any]:
    succeeded, dead = counts["succeeded"], counts["dead_lettered"]
    finished = succeeded + dead
    return {
        "counts": {name: int(counts[name]) for name in ("created", "succeeded", "dead_lettered", "resolved")},
        "failed_attempts": int(counts["attempts"]),
        "success_rate": round(succeeded / finished, 4) if finished else None,
        "mean_attempts_to_success": round(counts["attempts_to_success"] / succeeded, 3)
        if succeeded
        else None,
    }
