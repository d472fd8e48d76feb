"""Circuit breakers in DynamoDB: every change is a write conditioned on the version it read."""

from __future__ import annotations

from pynamodb.exceptions import PutError, PynamoDBException

from chalicelib.domain.breaker import BreakerState
from chalicelib.store.base import bind
from chalicelib.store.common import conditional_failure, page_of, unavailable
from chalicelib.store.models import BreakerRecord


def _state(record: BreakerRecord) -> BreakerState:
    return BreakerState(
        state=record.state,
        window=record.window or "",
        opened_at=record.opened_at,
        trials_started=int(record.trials_started),
        trial_successes=int(record.trial_successes),
        version=int(record.version),
    )


class BreakerStore:
    def __init__(self) -> None:
        self._model = bind(BreakerRecord, "breakers")

    def get(self, service: str) -> BreakerState:
        """The breaker's state; a service never seen is CLOSED at version 0."""
        return self.get_with_time(service)[0]

    def get_with_time(self, service: str) -> tuple[BreakerState, str | None]:
        """The state and when it last changed (None: never)."""
        try:
            record = self._model.get(service, consistent_read=True)
        except self._model.DoesNotExist:
            return BreakerState(), None
        except PynamoDBException as exc:
            raise unavailable("breakers") from exc
        return _state(record), record.updated_at

    def replace(self, service: str, new: BreakerState, expected_version: int, updated_at: str) -> bool:
        """Write ``new`` at ``expected_version + 1``; False if another writer got there first."""
        model = self._model
        record = model(
            service=service,
            state=new.state,
            window=new.window,
            opened_at=new.opened_at,
            trials_started=new.trials_started,
            trial_successes=new.trial_successes,
            version=expected_version + 1,
            updated_at=updated_at,
        )
        # Condition: the breaker is still at the version we read (absent counts as version 0).
        if expected_version == 0:
            condition = model.service.does_not_exist()
        else:
            condition = model.version == expected_version
        try:
            record.save(condition=condition)
        except PutError as exc:
            if conditional_failure(exc):
                return False
            raise unavailable("breakers") from exc
        return True

    def list(self, limit: int, after: str | None) -> tuple[list[tuple[str, BreakerState, str]], str | None]:
        """Breakers by service name, ``limit`` at a time (the by-list index; never a Scan)."""
        model = self._model
        condition = model.service > after if after else None
        try:
            records, last = page_of(
                model.by_list.query("breaker", condition, page_size=limit + 1), limit, key="service"
            )
        except PynamoDBException as exc:
            raise unavailable("breakers") from exc
        return [(r.service, _state(r), r.updated_at) for r in records], last
