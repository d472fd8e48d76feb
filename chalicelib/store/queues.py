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

    @staticmethod
    def due_later(run_at: datetime, now: datetime) -> bool:
        """Whether a message received now must hop on (its time is still ahead)."""
        return hop_delay(run_at, now) > 0
