"""Conductor's own SQS queues behind one adapter: the message's JSON, its delay (a wait past
SQS's 15 minutes travels in hops: the handler sends it on until ``run_at``), and SQS errors
mapped to ``DependencyUnavailable``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.messages import Message, encode
from chalicelib.domain.retry import MAX_SQS_DELAY, hop_delay
from chalicelib.errors import DependencyUnavailable


class Queue:
    def __init__(self, sqs: Any, url: Callable[[], str], name: str) -> None:
        self.sqs = sqs
        self._url = url
        self.name = name

    def send(
        self, message: Message, *, run_at: datetime | None = None, now: datetime | None = None, delay: int = 0
    ) -> None:
        """Send ``message`` to arrive at ``run_at`` (as seen at ``now``), or after ``delay`` s."""
        seconds = hop_delay(run_at, now) if run_at is not None and now is not None else delay
        self.send_entries(
            [{"MessageBody": encode(message), "DelaySeconds": max(0, min(MAX_SQS_DELAY, int(seconds)))}]
        )

    def send_many(self, messages: list[Message], *, run_at: datetime, now: datetime) -> None:
        """Messages due at the same time, 10 a SendMessageBatch."""
        delay = max(0, min(MAX_SQS_DELAY, hop_delay(run_at, now)))
        self.send_entries([{"MessageBody": encode(m), "DelaySeconds": delay} for m in messages])

    def send_timed(self, messages: list[tuple[Message, datetime]], now: datetime) -> None:
        """Messages each due at its own time (as seen at ``now``), 10 a SendMessageBatch. The
        delay is rounded down (SQS counts whole seconds): a message arrives up to a second early,
        and its handler waits the rest (``AttemptEngine.handle``), never late by the rounding."""
        self.send_entries(
            [
                {
                    "MessageBody": encode(m),
                    "DelaySeconds": max(0, min(MAX_SQS_DELAY, int((at - now).total_seconds()))),
                }
                for m, at in messages
            ]
        )

    def send_entries(self, entries: list[dict[str, Any]]) -> None:
        """SQS message entries (``MessageBody``, optional ``MessageAttributes`` and
        ``DelaySeconds``), one SendMessage for one, else 10 a SendMessageBatch; an entry SQS
        refused is sent again once, then ``DependencyUnavailable``."""
        for group in _batches(entries):
            chunk = [{"Id": str(n), **entry} for n, entry in enumerate(group)]
            for _ in range(2):
                try:
                    if len(chunk) == 1:
                        self.sqs.send_message(
                            QueueUrl=self._url(), **{k: v for k, v in chunk[0].items() if k != "Id"}
                        )
                        failed: set[str] = set()
                    else:
                        answer = self.sqs.send_message_batch(QueueUrl=self._url(), Entries=chunk)
                        failed = {f["Id"] for f in answer.get("Failed", [])}
                except (ClientError, BotoCoreError) as exc:
                    raise DependencyUnavailable(
                        f"The {self.name} queue could not be written; retry in a moment."
                    ) from exc
                chunk = [entry for entry in chunk if entry["Id"] in failed]
                if not chunk:
                    break
            if chunk:
                raise DependencyUnavailable(f"The {self.name} queue refused some messages.")

    @staticmethod
    def due_later(run_at: datetime, now: datetime) -> bool:
        """Whether a message received now must hop on (its time is still ahead)."""
        return hop_delay(run_at, now) > 0


#: SendMessageBatch takes 10 entries and 256 KB of bodies at most
BATCH_ENTRIES, BATCH_BYTES = 10, 240 * 1024


def _batches(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Entries in order, grouped within SQS's batch limits."""
    groups: list[list[dict[str, Any]]] = []
    size = 0
    for entry in entries:
        body = len(entry["MessageBody"].encode())
        if not groups or len(groups[-1]) == BATCH_ENTRIES or size + body > BATCH_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(entry)
        size += body
    return groups
