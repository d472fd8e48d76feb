"""Conductor behind the fault proxy, for tests: moto's server on 127.0.0.1, the proxy in front of
it (``devserver/faults.py``), every client of Conductor's pointed at the proxy, and the test's
own view of SQS and DynamoDB straight at moto (what Lambda's event source mappings and the test's
assertions see is never faulted: only Conductor's own calls are).

``Faulty.drive`` feeds a queue to its Lambda handler as Lambda does: it deletes what the handler
finished, and returns the records it names in ``batchItemFailures`` (or the whole batch when it
raises) to the queue at once.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from devserver.faults import FaultPlan, FaultProxy
from devserver.lambdas import context_for, sqs_event
from tests.functional.helpers import receive

ARN = "arn:aws:sqs:us-east-1:123456789012:"
PREFIX = "conductor-test-"


@dataclass
class Faulty:
    plan: FaultPlan
    proxy: FaultProxy
    moto_url: str
    resources: dict[str, str]
    handled: dict[str, int] = field(default_factory=dict)

    def direct(self, service: str) -> Any:
        """A client straight to moto (the test's own view)."""
        from chalicelib import aws

        return aws.client(service, endpoint_url=self.moto_url)

    def queue_url(self, queue: str) -> str:
        return self.direct("sqs").get_queue_url(QueueName=PREFIX + queue)["QueueUrl"]

    def drive(self, app_module: Any, handler: str, queue: str, max_batches: int = 20) -> int:
        """Up to ``max_batches`` batches of ``queue`` through ``handler``; returns how many
        messages the handler finished."""
        sqs, url = self.direct("sqs"), self.queue_url(queue)
        finished = 0
        for _ in range(max_batches):  # one batch a receive, handled before the next
            batches = receive(PREFIX + queue, max_batches=1, sqs=sqs)
            if not batches:
                break
            messages = batches[0]
            event = sqs_event(messages, ARN + PREFIX + queue, "us-east-1")
            try:
                answer = getattr(app_module, handler)(event, context_for(handler))
                failed = {f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])}
            except Exception:  # noqa: BLE001 - Lambda's view: the whole batch failed
                failed = {m["MessageId"] for m in messages}
            for message in messages:
                if message["MessageId"] in failed:
                    sqs.change_message_visibility(
                        QueueUrl=url, VisibilityTimeout=0, ReceiptHandle=message["ReceiptHandle"]
                    )
                else:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    finished += 1
        self.handled[queue] = self.handled.get(queue, 0) + finished
        return finished

    def pump(self, app_module: Any, rounds: int = 10) -> int:
        """Every queue through its handler until all are empty (bounded); messages finished."""
        total = 0
        for _ in range(rounds):
            moved = sum(
                self.drive(app_module, handler, queue)
                for queue, handler in (
                    ("dispatch", "dispatch_due_schedules"),
                    ("events", "fan_out_events"),
                    ("webhook-deliveries", "deliver_webhooks"),
                    ("executions", "run_schedule_executions"),
                    ("retries", "run_retry_attempts"),
                )
            )
            total += moved
            if not moved and not self.visible():
                break
        return total

    def visible(self) -> int:
        """Messages waiting (visible or delayed) on Conductor's five work queues."""
        sqs = self.direct("sqs")
        waiting = 0
        for queue in ("dispatch", "events", "webhook-deliveries", "executions", "retries"):
            attributes = sqs.get_queue_attributes(
                QueueUrl=self.queue_url(queue),
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
            )
            waiting += sum(int(v) for v in attributes["Attributes"].values())
        return waiting


def _reset_moto(url: str) -> None:
    request = urllib.request.Request(url + "/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


@contextmanager
def faulty_aws(plan: FaultPlan | None = None) -> Iterator[Faulty]:
    """Conductor's resources in moto's server, Conductor's clients behind the fault proxy."""
    from moto.server import ThreadedMotoServer

    from chalicelib import aws, deps
    from devserver.provision import provision
    from devserver.runtime import free_port

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server: a line per call
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    moto_url = f"http://127.0.0.1:{port}"
    proxy = FaultProxy(moto_url, plan or FaultPlan()).start()
    previous = os.environ.get("AWS_ENDPOINT_URL")
    try:
        _reset_moto(moto_url)
        os.environ["AWS_ENDPOINT_URL"] = proxy.url
        deps.reset()
        resources = provision(
            aws.client("dynamodb", endpoint_url=moto_url), aws.client("sqs", endpoint_url=moto_url), "test"
        )
        yield Faulty(proxy.plan, proxy, moto_url, resources)
    finally:
        proxy.plan.set_rate(0)
        proxy.plan.rules.clear()
        deps.reset()
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
        proxy.stop()
        try:
            _reset_moto(moto_url)
        finally:
            moto.stop()


def json_body(response: Any) -> Any:
    return json.loads(response.body) if response.body else None
