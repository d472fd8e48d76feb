"""The one durable-attempt loop: retry jobs, webhook deliveries and schedule runs go through it.

SQS delivers a message at least once and holds it back at most 15 minutes, so every kind of work
takes the same steps: read the message → load the item → skip it if that attempt is done →
hop on if its time is ahead → check the gates → claim the attempt with a lease (a conditional
write: one worker runs it) → run → record, then queue the next attempt or give up. What differs
(what "done" means, which gates, what running is) is the ``Work`` a caller hands in. Work with
no gate before its claim sets ``claim_first``: the claim is then the first call (it answers the
item), and the item is read only to explain a claim that failed.

A claim carries a token made for this one handling of the message. DynamoDB's writes have no
idempotency token of their own: when a claim's answer is lost, the SDK sends it again and the
retry meets the condition its own first try made false. So a failed claim is followed by a
consistent read that asks "is it mine?" (``Work.holds``): our token means the claim is ours and
the attempt goes on; anything else is explained by the work (a duplicate, a lease to wait out).
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.messages import DeliveryAttempt, MalformedMessage, RetryAttempt, decode
from chalicelib.domain.retry import RetryPolicy, decide
from chalicelib.store.queues import Queue

log = logging.getLogger("conductor.attempts")


@dataclass(frozen=True)
class Result:
    """What one attempt did, as the work's executor tells it."""

    success: bool
    record: dict[str, Any]  # the attempt as the item keeps it
    error: dict[str, Any] | None = None
    retry_after: float | None = None  # the receiver's Retry-After, in seconds
    final: bool = False  # no retry can help (410 Gone)


class Work[M, T]:
    """One kind of durable work. The defaults are the common case; each kind overrides what
    differs. Every method may be called again for the same message (at-least-once)."""

    message: type[M]
    name: str
    #: claim straight from the message (one conditional write that answers the item) and read
    #: only when the claim fails; for work with no gate before its claim
    claim_first: bool = False

    def load(self, message: M) -> T | None:
        raise NotImplementedError

    def claim_message(self, message: M, now: datetime, token: str) -> T | None:
        """``claim_first``: claim the message's attempt; the item as claimed, or None."""
        raise NotImplementedError

    def holds(self, item: T, message: M, token: str) -> bool:
        """Whether ``item`` (read after a claim failed) carries our claim: the claim's answer
        was lost and its retry found the item already claimed, by us."""
        raise NotImplementedError

    def missing(self, message: M, now: datetime) -> str:
        """The item is not there (deleted, or its write not visible yet)."""
        return "duplicate"

    def done(self, item: T, message: M, now: datetime) -> bool:
        raise NotImplementedError

    def before_claim(self, item: T, message: M, now: datetime) -> str | None:
        """A gate before the claim; an answer ends the handling with it."""
        return None

    def claim(self, item: T, message: M, now: datetime, token: str) -> bool:
        raise NotImplementedError

    def lost_claim(self, item: T, message: M, now: datetime) -> str:
        return "duplicate"

    def after_claim(self, item: T, message: M, now: datetime) -> str | None:
        """A gate after the claim (a breaker holding the service); an answer ends it."""
        return None

    def run(self, item: T, message: M, now: datetime) -> str:
        raise NotImplementedError

    # the end of an attempt that may be retried (``AttemptEngine.settle``)
    def policy(self, item: T) -> RetryPolicy:
        raise NotImplementedError

    def created_at(self, item: T) -> datetime:
        raise NotImplementedError

    def last_delay(self, item: T) -> float | None:
        return None

    def succeeded(self, item: T, message: M, result: Result, now: datetime) -> str:
        raise NotImplementedError

    def retrying(
        self, item: T, message: M, result: Result, delay: float, run_at: datetime, now: datetime
    ) -> str:
        raise NotImplementedError

    def gave_up(self, item: T, message: M, result: Result, reason: str, now: datetime) -> str:
        raise NotImplementedError


class AttemptEngine:
    """Runs ``Work`` from its queue's messages; answers what happened (for logs and tests).

    Raises only for infrastructure failures: the batch then returns to SQS, and the steps done
    already are found done on the next delivery.
    """

    def __init__(
        self,
        queue: Queue,
        clock: Callable[[], datetime],
        rand: Callable[[], float] = random.random,
        token: Callable[[], str] = lambda: secrets.token_hex(8),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.queue = queue
        self._clock = clock
        self._rand = rand
        self._token = token
        self._sleep = sleep

    def handle(self, work: Work[Any, Any], body: str) -> str:
        try:
            message = decode(work.message, body)
        except MalformedMessage:
            log.error("dropping a malformed %s message: %.200s", work.name, body)
            return "malformed"
        now = self._clock()
        item = None
        if not work.claim_first:  # its gates before the claim need the item
            item, answer = self._read(work, message, now)
            if answer is not None:
                return answer
        if (now := self._on_time(message, now)) is None:
            return "hop"
        token = self._token()
        if work.claim_first:  # one write claims and answers the item; a failed one reads why
            claimed = work.claim_message(message, now, token)
            if claimed is None:
                item, answer = self._after_failed_claim(work, message, now, token)
                if answer is not None:
                    return answer
            else:
                item = claimed
        else:
            gate = work.before_claim(item, message, now)
            if gate is not None:
                return gate
            if not work.claim(item, message, now, token):
                item, answer = self._after_failed_claim(work, message, now, token)
                if answer is not None:
                    return answer
        gate = work.after_claim(item, message, now)
        return gate if gate is not None else work.run(item, message, now)

    def _on_time(self, message: Any, now: datetime) -> datetime | None:
        """Now, for a message due now; None when it came early and hopped on to its time. SQS
        delays are whole seconds (sent rounded down): the rest of a second is waited here, so a
        message starts on its time, not up to a second before or after it."""
        if message.run_at is None:
            return now
        if self.queue.due_later(message.run_at, now):
            self.later(message, message.run_at, now)
            return None
        early = (message.run_at - now).total_seconds()
        if 0 < early < 1:
            self._sleep(early)
            return self._clock()
        return now

    def _after_failed_claim(
        self, work: Work[Any, Any], message: Any, now: datetime, token: str
    ) -> tuple[Any, str | None]:
        """A claim's condition failed: read (consistently) why. Our own token means the claim
        was applied and only its answer was lost: go on (no answer). Otherwise the answer."""
        item, answer = self._read(work, message, now, token)
        if answer == "ours":
            log.info("%s: the claim of %s was ours (its answer was lost)", work.name, message)
            return item, None
        if answer is not None:
            return item, answer
        return item, work.lost_claim(item, message, now)

    @staticmethod
    def _read(
        work: Work[Any, Any], message: Any, now: datetime, token: str | None = None
    ) -> tuple[Any, str | None]:
        """The message's item, or the answer when there is nothing to do: gone, or done; after a
        failed claim (``token``), "ours" when the item carries our own claim."""
        item = work.load(message)
        if item is None:
            return None, work.missing(message, now)
        if token is not None and work.holds(item, message, token):
            return item, "ours"
        if work.done(item, message, now):
            return item, "duplicate"
        return item, None

    def later(self, message: RetryAttempt | DeliveryAttempt, run_at: datetime, now: datetime) -> None:
        """The same attempt again at ``run_at`` (a lease, a breaker or a rate limit held it)."""
        self.queue.send(message.again(message.attempt, run_at), run_at=run_at, now=now)

    def settle(
        self,
        work: Work[Any, Any],
        item: Any,
        message: RetryAttempt | DeliveryAttempt,
        result: Result,
        now: datetime,
    ) -> str:
        """Record an attempt's end: done, the next attempt queued (before the item says so, so
        none is lost), or given up with the reason the policy gives."""
        if result.success:
            return work.succeeded(item, message, result, now)
        reason = "gone"
        if not result.final:
            decision = decide(
                work.policy(item),
                message.attempt,
                (result.error or {}).get("type", "Error"),
                work.created_at(item),
                now,
                self._rand,
                work.last_delay(item),
                result.retry_after,
            )
            if decision.retry:
                run_at = now + timedelta(seconds=decision.delay_seconds)
                self.queue.send(message.again(message.attempt + 1, run_at), run_at=run_at, now=now)
                return work.retrying(item, message, result, decision.delay_seconds, run_at, now)
            reason = decision.reason or "exhausted"
        return work.gave_up(item, message, result, reason, now)
