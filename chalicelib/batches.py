"""SQS batches handled record by record, answering Lambda which records failed.

Lambda's SQS trigger, with ``FunctionResponseTypes: [ReportBatchItemFailures]`` (set by the
packaged template and by ``make deploy``: ``infra/build.py``), deletes every record of a batch
but those the handler names in ``batchItemFailures``; those return to the queue, and after the
queue's ``maxReceiveCount`` they reach its dead-letter queue alone. So a poison message never
takes its batch-mates with it, and a record whose AWS call failed is the only one received again.

Powertools' ``BatchProcessor`` does the same; it is not used because it would be a dependency
(and a cold-start import) for this loop, and our handlers already hold Chalice's records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("conductor.batches")


def failures(ids: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    """The answer Lambda reads: the ids of the records to receive again."""
    return {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}


def each_record(
    event: Iterable[Any], handle: Callable[[Any], Any], what: str
) -> dict[str, list[dict[str, str]]]:
    """``handle`` every record on its own; one that raises is logged and named as failed."""
    failed = []
    for record in event:
        message_id = record.to_dict()["messageId"]
        try:
            handle(record)
        except Exception:
            log.exception("%s: message %s failed; it is received again", what, message_id)
            failed.append(message_id)
    return failures(failed)
