"""The dead-letter table: retry jobs that gave up and messages SQS dead-lettered."""
from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PynamoDBException, UpdateError

from chalicelib.store.base import bind
from chalicelib.store.common import conditional_failure, page_of, save_once, unavailable
from chalicelib.store.models import DeadLetterRecord


class DeadLetterStore:
    def __init__(self) -> None:
        self._model = bind(DeadLetterRecord, "dead_letters")

    def put_once(self, **fields: Any) -> tuple[DeadLetterRecord, bool]:
        """Write an entry unless its (derived) id exists; return it and whether it is new."""
        record = self._model(**fields)
        return save_once(record, self._model.id, "dead letters", lambda: self.get(record.id))

    def get(self, entry_id: str) -> DeadLetterRecord | None:
        try:
            return self._model.get(entry_id, consistent_read=True)
        except self._model.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise unavailable("dead letters") from exc

    def transition(self, record: DeadLetterRecord, status: str, now_iso: str,
                   **fields: Any) -> bool:
        """Move an open entry to ``status``; False if it was not open any more."""
        m = self._model
        actions = [m.status.set(status), m.resolved_at.set(now_iso)]
        actions += [getattr(m, name).set(value) for name, value in fields.items()]
        try:
            # Condition: only an open entry changes (no double replay, no replay of a resolved one).
            record.update(actions=actions, condition=m.status == "open")
        except UpdateError as exc:
            if conditional_failure(exc):
                return False
            raise unavailable("dead letters") from exc
        return True

    def list(self, status: str, fingerprint: str | None, source: str | None,
             service: str | None, limit: int,
             before: str | None) -> tuple[list[DeadLetterRecord], str | None]:
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
            return page_of(query, limit)
        except PynamoDBException as exc:
            raise unavailable("dead letters") from exc
