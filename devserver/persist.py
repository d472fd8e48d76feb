"""``make run ARGS="--data .conductor"``: local data that survives a restart.

moto keeps everything in memory. With a data directory, the local runtime loads a snapshot after
creating the resources and writes one every minute and on stop:

- ``tables/<table>.jsonl``: every item, in DynamoDB's typed JSON (read with paginated Scans — this
  is an admin path of the local runtime, never a request or tick path);
- ``queues/<queue>.jsonl``: every message still in a queue (waiting, delayed or being handled),
  with the seconds until it is due, so a retry's next attempt keeps its place;
- ``admin-key`` (mode 0600): the bootstrap admin key, the same at every start.

A snapshot is written to a temporary file and renamed, so a crash mid-write leaves the previous one.
Messages handled since the last snapshot may run again after a crash: every handler is idempotent.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chalicelib.domain.retry import MAX_SQS_DELAY

log = logging.getLogger("conductor.devserver")


def admin_key(data_dir: Path, make: Any) -> str:
    """The saved admin key, or a new one from ``make()`` saved readable by this user only."""
    path = data_dir / "admin-key"
    if path.exists():
        return path.read_text().strip()
    key = str(make())
    _write_lines(path, iter([key]))
    return key


def _write_lines(path: Path, lines: Iterator[str]) -> int:
    """Readable by this user only: the tables hold webhook secrets and hashed keys."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    count = 0
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        for line in lines:
            file.write(line + "\n")
            count += 1
    temporary.replace(path)
    return count


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open() as file:
        for line in file:
            if line.strip():
                yield json.loads(line)


def _attribute(value: dict[str, Any]) -> dict[str, str]:
    """A String/Number message attribute as SendMessage takes it (moto has used both spellings)."""
    return {
        "DataType": value.get("DataType") or value["data_type"],
        "StringValue": value.get("StringValue") or value["string_value"],
    }


class Snapshots:
    def __init__(
        self,
        data_dir: Path,
        dynamodb: Any,
        sqs: Any,
        tables: list[str],
        queues: list[str],
        region: str,
        journal: Any = None,
    ) -> None:
        self.dir = data_dir
        #: the calls since the last snapshot (journal.py): emptied by each snapshot
        self.journal = journal
        self.dynamodb, self.sqs = dynamodb, sqs
        self.tables, self.queues = tables, queues
        self.region = region
        self._lock = threading.Lock()

    def load(self) -> dict[str, int]:
        """Put the saved items and messages back; answers how many of each."""
        items = messages = 0
        for table in self.tables:
            batch: list[dict[str, Any]] = []
            for item in _read_lines(self.dir / "tables" / f"{table}.jsonl"):
                batch.append({"PutRequest": {"Item": item}})
                if len(batch) == 25:
                    items += self._put(table, batch)
                    batch = []
            if batch:
                items += self._put(table, batch)
        for queue in self.queues:
            url = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            for message in _read_lines(self.dir / "queues" / f"{queue}.jsonl"):
                request: dict[str, Any] = {
                    "QueueUrl": url,
                    "MessageBody": message["body"],
                    "DelaySeconds": min(MAX_SQS_DELAY, max(0, math.ceil(message["due_in"]))),
                }
                if message.get("attributes"):
                    request["MessageAttributes"] = message["attributes"]
                self.sqs.send_message(**request)
                messages += 1
        return {"items": items, "messages": messages}

    def _put(self, table: str, batch: list[dict[str, Any]]) -> int:
        pending = {table: batch}
        for _ in range(10):
            pending = self.dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                return len(batch)
        raise RuntimeError(f"{table}: items left unwritten while loading the snapshot")

    def save(self) -> dict[str, int]:
        """Write a snapshot; with a journal, mutating calls wait while it is taken, and the
        journal is emptied once it is on disk (it holds nothing the snapshot does not)."""
        held = self.journal.lock if self.journal is not None else threading.Lock()
        with self._lock, held:
            items = sum(
                _write_lines(self.dir / "tables" / f"{table}.jsonl", self._items(table))
                for table in self.tables
            )
            messages = sum(
                _write_lines(self.dir / "queues" / f"{queue}.jsonl", self._messages(queue))
                for queue in self.queues
            )
            if self.journal is not None:
                self.journal.clear()
        return {"items": items, "messages": messages}

    def _items(self, table: str) -> Iterator[str]:
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                yield json.dumps(item, sort_keys=True)

    def _messages(self, queue: str) -> Iterator[str]:
        """Read from moto's own queue (in this process): ReceiveMessage cannot see delayed
        messages, nor those a handler holds right now."""
        from moto.core import DEFAULT_ACCOUNT_ID  # noqa: PLC0415
        from moto.sqs.models import sqs_backends  # noqa: PLC0415

        now_ms = time.time() * 1000
        stored = sqs_backends[DEFAULT_ACCOUNT_ID][self.region].queues[queue]
        with stored._messages_lock:
            messages = list(stored._messages)
        for message in messages:
            due_ms = max(message.delayed_until, message.visible_at, now_ms)
            attributes = {name: _attribute(value) for name, value in message.message_attributes.items()}
            yield json.dumps(
                {"body": message.body, "attributes": attributes, "due_in": round((due_ms - now_ms) / 1000, 3)}
            )

    def every(self, seconds: float, stop: threading.Event) -> threading.Thread:
        """Save every ``seconds`` until ``stop`` is set (a crash loses at most that much)."""

        def loop() -> None:
            while not stop.wait(seconds):
                try:
                    self.save()
                except Exception:  # noqa: BLE001 - the next one may work; stop saves too
                    log.warning("snapshot to %s failed", self.dir, exc_info=True)

        thread = threading.Thread(target=loop, name="snapshots", daemon=True)
        thread.start()
        return thread
