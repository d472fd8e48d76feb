"""The dead-letter table: retry jobs that gave up and messages SQS dead-lettered."""
from __future__ import annotations

import dataclasses
from typing import Any

from pynamodb.exceptions import PynamoDBException, UpdateError

from chalicelib.domain.dead_letters import DeadLetter
from chalicelib.store.base import bind
from chalicelib.store.common import conditional_failure, page_of, save_once, unavailable
from chalicelib.store.mapping import entity_of, fields_of
from chalicelib.store.models import DeadLetterRecord


def _entry(record: DeadLetterRecord) -> DeadLetter:
    return entity_of(DeadLetter, record)


class DeadLetterStore:
    def __init__(self) -> None:
        self._model = bind(DeadLetterRecord, "dead_letters")

    def put_once(self, entry: DeadLetter) -> tuple[DeadLetter, bool]:
        """Write an entry unless its (derived) id exists; return the stored one and whether it
        is new."""
        record = self._model(**fields_of(entry), created_sk=f"{entry.created_at}#{entry.id}")
        stored, new = save_once(record, self._model.id, "dead letters",
                                lambda: self._model.get(entry.id, consistent_read=True))
        return (entry if new else _entry(stored)), new

    def get(self, entry_id: str) -> DeadLetter | None:
        try:
            return _entry(self._model.get(entry_id, consistent_read=True))
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("dead letters") from exc

    def transition(self, entry: DeadLetter, status: str, now_iso: str,
                   **fields: Any) -> DeadLetter | None:
        """Move an open entry to ``status``; None if it was not open any more."""
        m = self._model
        actions = [m.status.set(status), m.resolved_at.set(now_iso)]
        actions += [getattr(m, name).set(value) for name, value in fields.items()]
        try:
            # Condition: only an open entry changes (no double replay, no replay of a resolved one).
            m(entry.id).update(actions=actions, condition=m.status == "open")
        except UpdateError as exc:
            if conditional_failure(exc):
                return None
            raise unavailable("dead letters") from exc
        return dataclasses.replace(entry, status=status, resolved_at=now_iso, **fields)

    def list(self, status: str, fingerprint: str | None, source: str | None,
             service: str | None, limit: int,
             before: str | None) -> tuple[list[DeadLetter], str | None]:
        m = self._model
        condition = m.created_sk < before if before else None
        filters = None
        for attribute, value in ((m.source, source), (m.service, service)):
            if value is not None:
                clause = attribute == value
                filters = clause if filters is None else filters & clause
        if fingerprint is not None:
            status_clause = m.status == status
            filters = status_clause if filters is None else filters & status_clause
            query = m.by_fingerprint.query(fingerprint, condition, scan_index_forward=False,
                                           filter_condition=filters, page_size=limit + 1)
        else:
            query = m.by_status.query(status, condition, scan_index_forward=False,
                                      filter_condition=filters, page_size=limit + 1)
        try:
            records, last = page_of(query, limit)
        except PynamoDBException as exc:
            raise unavailable("dead letters") from exc
        return [_entry(r) for r in records], last
