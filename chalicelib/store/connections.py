"""WebSocket connections and the pattern -> subscriber index the fan-out reads."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, PynamoDBException

from chalicelib.domain.connections import Connection
from chalicelib.errors import DependencyUnavailable
from chalicelib.store.base import bind
from chalicelib.store.common import conditional_failure
from chalicelib.store.mapping import entity_of
from chalicelib.store.models import ConnectionRecord, SubscriptionRecord
from chalicelib.store.pattern_sets import update_sets

CONNECTION_PREFIX = "con#"


class ConnectionStore:
    """Connections keyed by API Gateway's connection id; subscriptions keyed by pattern."""

    def __init__(self) -> None:
        self._connections = bind(ConnectionRecord, "connections")
        self._subscriptions = bind(SubscriptionRecord, "subscriptions")

    def add(
        self,
        connection_id: str,
        endpoint: str,
        connected_at: str,
        expires_at: int,
        key_id: str | None = None,
    ) -> None:
        try:
            self._connections(
                id=connection_id,
                endpoint=endpoint,
                connected_at=connected_at,
                expires_at=expires_at,
                patterns=[],
                key_id=key_id,
            ).save()
        except PynamoDBException as exc:
            raise DependencyUnavailable("The connections table could not be written.") from exc

    def get(self, connection_id: str, now_epoch: int) -> Connection | None:
        try:
            record = self._connections.get(connection_id)
        except DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise DependencyUnavailable("The connections table could not be read.") from exc
        return entity_of(Connection, record) if record.expires_at > now_epoch else None

    def set_patterns(self, connection: Connection, patterns: list[str]) -> None:
        """Store the connection's patterns and make the index agree with them."""
        old, new = set(connection.patterns), set(patterns)
        subscriber = CONNECTION_PREFIX + connection.id
        try:
            with self._subscriptions.batch_write() as batch:
                for pattern in new - old:
                    batch.save(
                        self._subscriptions(
                            pattern=pattern, subscriber=subscriber, expires_at=connection.expires_at
                        )
                    )
                for pattern in old - new:
                    batch.delete(self._subscriptions(pattern=pattern, subscriber=subscriber))
            # Condition: still connected (an update of a gone id would make a partial item).
            self._connections(connection.id).update(
                actions=[self._connections.patterns.set(sorted(new))], condition=self._connections.id.exists()
            )
        except PynamoDBException as exc:
            if conditional_failure(exc):
                return  # disconnected meanwhile: its $disconnect removes the index entries

            raise DependencyUnavailable("The subscriptions could not be written.") from exc
        update_sets(self._subscriptions, subscriber, new - old, old - new)

    def remove(self, connection_id: str) -> None:
        """Delete a connection and its index entries; a second call finds nothing and is a no-op."""
        try:
            record = self._connections.get(connection_id)
        except DoesNotExist:
            return
        try:
            with self._subscriptions.batch_write() as batch:
                for pattern in record.patterns or []:
                    batch.delete(
                        self._subscriptions(pattern=pattern, subscriber=CONNECTION_PREFIX + connection_id)
                    )
            update_sets(self._subscriptions, CONNECTION_PREFIX + connection_id, (), record.patterns or [])
            record.delete()
        except PynamoDBException as exc:
            raise DependencyUnavailable("The connection could not be removed.") from exc

    def of_key(self, key_id: str) -> dict[str, str]:
        """Connection id -> endpoint of every connection opened with API key ``key_id``."""
        try:
            return {c.id: c.endpoint for c in self._connections.by_key.query(key_id)}
        except PynamoDBException as exc:
            raise DependencyUnavailable("The connections table could not be read.") from exc
