"""Event-source emulation: SQS queues feeding their handlers, and EventBridge schedule ticks."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from croniter import croniter

from devserver.lambdas import (
    ACCOUNT_ID,
    context_for,
    handler_for,
    scheduled_event,
    sqs_event,
)

log = logging.getLogger("conductor.devserver")


class SqsPoller(threading.Thread):
    """Feeds one ``@app.on_sqs_message`` handler from its queue, as Lambda's SQS trigger does.

    A batch the handler returns from is deleted, except the records it names in
    ``batchItemFailures``; a batch it raises on is made visible again after ``redelivery_seconds``
    (Lambda waits the queue's visibility timeout; minutes would make local work crawl), and after
    ``maxReceiveCount`` receives SQS itself (moto) moves the message to the dead-letter queue.
    """

    def __init__(
        self,
        app: Any,
        sqs: Any,
        source: Any,
        queue_url: str,
        region: str,
        stop: threading.Event,
        redelivery_seconds: int = 2,
        wait_seconds: int = 1,
        copy: int = 0,
    ) -> None:
        super().__init__(name=f"sqs-{source.name}-{copy}", daemon=True)
        self.sqs = sqs
        self.source = source
        self.queue_url = queue_url
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.region = region
        self.stop = stop
        self.redelivery_seconds = redelivery_seconds
        self.wait_seconds = wait_seconds
        self.handler = handler_for(app, source)
        self.batches = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                if not self.poll_once() and not self.wait_seconds:
                    self.stop.wait(0.05)  # a short poll: 20 a second while the queue is empty
            except Exception:  # the poller outlives any one failure
                log.exception("polling %s failed", self.source.queue)
                self.stop.wait(1)

    def poll_once(self) -> int:
        """Receive one batch and run the handler on it; return how many messages it held."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(10, max(1, self.source.batch_size)),
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if messages:
            self.process(messages)
        return len(messages)

    def process(self, messages: list[dict[str, Any]]) -> None:
        event = sqs_event(messages, self.queue_arn, self.region)
        try:
            result = self.handler(event, context_for(self.source.name))
        except Exception:  # Lambda's view: the whole batch failed
            log.exception("%s failed a batch of %d", self.source.name, len(messages))
            self._release(messages)
            return
        failed: set[str] = set()
        if isinstance(result, dict):
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        self._release([m for m in messages if m["MessageId"] in failed])
        self.batches += 1

    def _release(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=self.redelivery_seconds,
            )


def _expression(source: Any) -> str:
    expression = source.schedule_expression
    return expression if isinstance(expression, str) else expression.to_string()


def next_fire(expression: str, after: datetime) -> datetime:
    """The next time an EventBridge ``rate(...)`` or ``cron(...)`` expression fires after ``after``.

    Rates fire on multiples of their period from the epoch (EventBridge starts them at creation;
    aligning keeps local ticks on minute boundaries). AWS cron has six fields (with ``?`` and a
    year); croniter takes the first five.
    """
    body = expression[expression.index("(") + 1 : -1].strip()
    if expression.startswith("rate("):
        amount, unit = body.split()
        seconds = int(amount) * {"minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]
        epoch = int(after.timestamp())
        return datetime.fromtimestamp(epoch - epoch % seconds + seconds, tz=UTC)
    if expression.startswith("cron("):
        fields = body.replace("?", "*").split()[:5]
        return croniter(" ".join(fields), after).get_next(datetime)
    raise ValueError(f"unsupported schedule expression {expression!r}")


class Ticker(threading.Thread):
    """Fires every ``@app.schedule`` handler on its expression with an EventBridge-shaped event."""

    def __init__(self, app: Any, sources: list[Any], region: str, stop: threading.Event) -> None:
        super().__init__(name="ticker", daemon=True)
        self.region = region
        self.stop = stop
        now = datetime.now(UTC)
        self.jobs = [
            {
                "source": s,
                "handler": handler_for(app, s),
                "expression": _expression(s),
                "next": next_fire(_expression(s), now),
            }
            for s in sources
        ]
        self.fired = 0

    def fire_due(self, now: datetime) -> int:
        """Run every job whose time has come; return how many ran."""
        ran = 0
        for job in self.jobs:
            if job["next"] > now:
                continue
            rule_arn = f"arn:aws:events:{self.region}:{ACCOUNT_ID}:rule/{job['source'].name}"
            try:
                job["handler"](
                    scheduled_event(rule_arn, self.region, job["next"]), context_for(job["source"].name)
                )
            except Exception:  # EventBridge logs and moves on, so do we
                log.exception("scheduled handler %s failed", job["source"].name)
            job["next"] = next_fire(job["expression"], now)
            ran += 1
        self.fired += ran
        return ran

    def run(self) -> None:
        while not self.stop.is_set():
            self.fire_due(datetime.now(UTC))
            upcoming = min((j["next"] for j in self.jobs), default=None)
            delay = 1.0 if upcoming is None else (upcoming - datetime.now(UTC)).total_seconds()
            self.stop.wait(min(1.0, max(0.05, delay)))
