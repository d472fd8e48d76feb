"""The dead-letter table: retry jobs that gave up and messages SQS dead-lettered.

Lists by status are the ``by-status`` index; by source, service or fingerprint (any of them,
with the status) one list of ``store/lists.py``, kept in the same transaction as the entry."""

from __future__ import annotations

import dataclasses
from typing import Any

from pynamodb.exceptions import PynamoDBException

from chalicelib.domain.dead_letters import DeadLetter
from chalicelib.store import lists
from chalicelib.store.base import bind
from chalicelib.store.common import Write, page_of, transact, unavailable
from chalicelib.store.mapping import entity_of, fields_of
from chalicelib.store.models import DeadLetterRecord


def _entry(record: DeadLetterRecord) -> DeadLetter:
    return entity_of(DeadLetter, record)


def _lists(entry: DeadLetter, status: str) -> set[str]:
    return lists.keys(
        "dlq",
        {"status": status},
        {"source": entry.source, "service": entry.service, "fingerprint": entry.fingerprint},
    )


class DeadLetterStore:
    def __init__(self) -> None:
        self._model = bind(DeadLetterRecord, "dead_letters")
        self._lists = lists.Lists()

    def put_once(self, entry: DeadLetter) -> tuple[DeadLetter, bool]:
        """Write an entry unless its (derived) id exists; return the stored one and whether it
        is new. The entry and its lists are one transaction."""
        position = f"{entry.created_at}#{entry.id}"
        record = self._model(**fields_of(entry), created_sk=position)
        # Condition: nothing with this id yet (derived ids make repeated deliveries write once).
        writes = [
            Write(record, self._model.id.does_not_exist(), "entry"),
            *self._lists.changes(set(), _lists(entry, entry.status), position, entry.id, entry.expires_at),
        ]
        if transact(writes, "dead letters") is None:
            return entry, True
        return self.get(entry.id) or entry, False

    def get(self, entry_id: str) -> DeadLetter | None:
        try:
            return _entry(self._model.get(entry_id, consistent_read=True))
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("dead letters") from exc

    def transition(self, entry: DeadLetter, status: str, now_iso: str, **fields: Any) -> DeadLetter | None:
        """Move an open entry to ``status``; None if it was not open any more."""
        m = self._model
        actions = [m.status.set(status), m.resolved_at.set(now_iso)]
        actions += [getattr(m, name).set(value) for name, value in fields.items()]
        position = f"{entry.created_at}#{entry.id}"
        # Condition: only an open entry changes (no double replay, no replay of a resolved one).
        writes = [
            Write(m(entry.id), m.status == "open", "entry", actions=actions),
            *self._lists.changes(
                _lists(entry, "open"), _lists(entry, status), position, entry.id, entry.expires_at
            ),
        ]
        if transact(writes, "dead letters") is not None:
            return None
        return dataclasses.replace(entry, status=status, resolved_at=now_iso, **fields)

    def list(
        self,
        status: str,
        fingerprint: str | None,
        source: str | None,
        service: str | None,
        limit: int,
        before: str | None,
    ) -> tuple[list[DeadLetter], str | None]:
        m = self._model
        if fingerprint is not None or source is not None or service is not None:
            return self._lists.items(
                lists.key(
                    "dlq",
                    {
                        k: v
                        for k, v in (
                            ("status", status),
                            ("fingerprint", fingerprint),
                            ("source", source),
                            ("service", service),
                        )
                        if v is not None
                    },
                ),
                limit,
                before,
                m,
                "dead letters",
                _entry,
            )
        query = m.by_status.query(
            status, m.created_sk < before if before else None, scan_index_forward=False, page_size=limit + 1
        )
        try:
            records, last = page_of(query, limit)
        except PynamoDBException as exc:
            raise unavailable("dead letters") from exc
        return [_entry(r) for r in records], last
