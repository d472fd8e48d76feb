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

    def send(self, message: Message, *, run_at: datetime | None = None,
             now: datetime | None = None, delay: int = 0) -> None:
        """Send ``message`` to arrive at ``run_at`` (as seen at ``now``), or after ``delay`` s."""
        seconds = hop_delay(run_at, now) if run_at is not None and now is not None else delay
        try:
            self.sqs.send_message(QueueUrl=self._url(), MessageBody=encode(message),
                                  DelaySeconds=max(0, min(MAX_SQS_DELAY, int(seconds))))
        except (ClientError, BotoCoreError) as exc:
            raise DependencyUnavailable(
                f"The {self.name} queue could not be written; retry in a moment.") from exc

    def send_many(self, messages: list[Message], *, run_at: datetime, now: datetime) -> None:
        """Messages due at the same time, 10 a SendMessageBatch; an entry SQS refused is sent
        again once, then ``DependencyUnavailable``."""
        delay = max(0, min(MAX_SQS_DELAY, hop_delay(run_at, now)))
        for i in range(0, len(messages), 10):
            entries = [{"Id": str(n), "MessageBody": encode(m), "DelaySeconds": delay}
                       for n, m in enumerate(messages[i:i + 10])]
            for _ in range(2):
                try:
                    answer = self.sqs.send_message_batch(QueueUrl=self._url(), Entries=entries)
                except (ClientError, BotoCoreError) as exc:
                    raise DependencyUnavailable(
                        f"The {self.name} queue could not be written; retry in a moment.") from exc
                failed = {f["Id"] for f in answer.get("Failed", [])}
                entries = [e for e in entries if e["Id"] in failed]
                if not entries:
                    break
            if entries:
                raise DependencyUnavailable(f"The {self.name} queue refused some messages.")

    @staticmethod
    def due_later(run_at: datetime, now: datetime) -> bool:
        """Whether a message received now must hop on (its time is still ahead)."""
        return hop_delay(run_at, now) > 0
