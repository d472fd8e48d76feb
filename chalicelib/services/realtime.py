"""WebSocket connections: connect, subscribe, and push events to the subscribed connections."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain import strict_json
from chalicelib.domain.connections import Connection
from chalicelib.domain.events import Event, is_valid_pattern
from chalicelib.domain.timeutil import to_iso, utcnow
from chalicelib.store.connections import ConnectionStore

log = logging.getLogger(__name__)

#: API Gateway closes a connection after 2 hours; keep records a little longer, then TTL.
CONNECTION_TTL = timedelta(hours=2, minutes=10)
MAX_PATTERNS = 50
#: One API Gateway frame is 32 KB: a bigger event is sent as a reference to fetch instead.
MAX_EVENT_MESSAGE = 32 * 1024
MAX_REPLAY = 1000


class Realtime:
    """Keeps the connection table and posts through the API Gateway management API.

    ``sender(endpoint)`` returns a boto3 ``apigatewaymanagementapi`` client for an endpoint; each
    connection stores the endpoint it came through, so no handler needs the WebSocket API id.
    """

    def __init__(
        self,
        store: ConnectionStore,
        sender: Callable[[str], Any],
        clock: Callable[[], datetime] = utcnow,
        max_workers: int = 16,
        timeline: Callable[[], Any] | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._clock = clock
        self._max_workers = max_workers
        self._timeline = timeline

    def _now_epoch(self) -> int:
        return int(self._clock().timestamp())

    def connect(self, connection_id: str, endpoint: str, key_id: str | None = None) -> None:
        now = self._clock()
        self._store.add(connection_id, endpoint, to_iso(now), int((now + CONNECTION_TTL).timestamp()), key_id)

    def disconnect(self, connection_id: str) -> None:
        self._store.remove(connection_id)

    def close_key(self, key_id: str) -> int:
        """Close every socket opened with a revoked key and forget it, so no further push or
        message reaches it; returns how many were closed."""
        connections = self._store.of_key(key_id)
        for connection_id, endpoint in connections.items():
            try:
                self._sender(endpoint).delete_connection(ConnectionId=connection_id)
            except (ClientError, BotoCoreError) as exc:  # gone already, or closes by itself
                log.info("closing %s: %s", connection_id, exc)
            self._store.remove(connection_id)
        return len(connections)

    def handle_message(self, connection_id: str, body: str) -> None:
        """Answer one client message: ``subscribe``, ``unsubscribe`` or ``ping``."""
        record = self._store.get(connection_id, self._now_epoch())
        if record is None:
            return
        try:
            message = strict_json.loads(body)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self._reply(record.endpoint, connection_id, _error("bad_message", "Send a JSON object."))
            return
        action = message.get("action")
        if action == "ping":
            self._reply(record.endpoint, connection_id, {"action": "pong"})
        elif action == "resume":
            self._resume(record, message.get("after"))
        elif action in ("subscribe", "unsubscribe"):
            patterns = message.get("events")
            if (
                not isinstance(patterns, list)
                or not patterns
                or not all(isinstance(p, str) and is_valid_pattern(p) for p in patterns)
            ):
                self._reply(
                    record.endpoint,
                    connection_id,
                    _error(
                        "validation_error",
                        "'events' must be a non-empty list of event types or patterns like 'schedule.*'.",
                    ),
                )
                return
            current = set(record.patterns)
            wanted = current | set(patterns) if action == "subscribe" else current - set(patterns)
            if len(wanted) > MAX_PATTERNS:
                self._reply(
                    record.endpoint,
                    connection_id,
                    _error("validation_error", f"At most {MAX_PATTERNS} patterns per connection."),
                )
                return
            self._store.set_patterns(record, sorted(wanted))
            self._reply(
                record.endpoint, connection_id, {"action": "ack", "of": action, "events": sorted(wanted)}
            )
        else:
            self._reply(
                record.endpoint,
                connection_id,
                _error("unknown_action", "Known actions: subscribe, unsubscribe, resume, ping."),
            )

    def _resume(self, record: Connection, after: Any) -> None:
        """Replay, oldest first, the subscribed events published after event ``after``, then ack:
        a client that lost its socket reconnects, resubscribes and resumes without a gap."""
        from chalicelib.domain.events import pattern_matches  # noqa: PLC0415
        from chalicelib.domain.ids import id_time, is_id  # noqa: PLC0415

        if not isinstance(after, str) or not is_id(after, "evt") or self._timeline is None:
            self._reply(
                record.endpoint,
                record.id,
                _error("validation_error", "'after' must be the id of an event you received."),
            )
            return
        bus = self._timeline()
        since = id_time(after)
        missed, position = [], None
        for _ in range(MAX_REPLAY // 200 + 1):  # bounded pages
            page = bus.list(200, start=since, position=position)
            missed += [e for e in page.events if (e.timestamp, e.id) > (to_iso(since), after)]
            position = page.position
            if position is None or len(missed) > MAX_REPLAY:
                break
        if len(missed) > MAX_REPLAY:
            self._reply(
                record.endpoint,
                record.id,
                _error("too_many_missed", f"More than {MAX_REPLAY} events were missed; reload instead."),
            )
            return
        patterns = list(record.patterns)
        replayed = 0
        for event in reversed(missed):  # the timeline is newest first
            if any(pattern_matches(p, event.type) for p in patterns):
                self._reply(record.endpoint, record.id, self._event_message(event))
                replayed += 1
        self._reply(
            record.endpoint,
            record.id,
            {"action": "ack", "of": "resume", "after": after, "replayed": replayed},
        )

    @staticmethod
    def _event_message(event: Event) -> dict[str, Any]:
        message = {"action": "event", "event": event.to_dict()}
        if len(json.dumps(message)) <= MAX_EVENT_MESSAGE:
            return message
        return {
            "action": "event",
            "event": {
                "id": event.id,
                "type": event.type,
                "timestamp": event.timestamp,
                "trimmed": True,
                "link": f"/v2/events/{event.id}",
            },
        }

    def fan_out(self, event: Event, targets: dict[str, str]) -> int:
        """Push ``event`` to the subscribed connections (``services/fanout.py`` found and read
        them: id -> management endpoint) in parallel; return how many got it."""
        if not targets:
            return 0
        message = self._event_message(event)
        workers = min(self._max_workers, len(targets))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            sent = pool.map(lambda item: self._reply(item[1], item[0], message), targets.items())
            return sum(1 for ok in sent if ok)

    def _reply(self, endpoint: str, connection_id: str, message: dict[str, Any]) -> bool:
        """Post to one connection; a gone connection is forgotten, not retried."""
        try:
            self._sender(endpoint).post_to_connection(
                ConnectionId=connection_id, Data=json.dumps(message).encode()
            )
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("GoneException", "410"):
                self._store.remove(connection_id)
            else:  # best effort: a client that missed an event catches up with "resume"
                log.warning("post to %s failed: %s", connection_id, exc)
            return False
        except BotoCoreError as exc:
            log.warning("post to %s failed: %s", connection_id, exc)
            return False


def _error(code: str, message: str) -> dict[str, Any]:
    return {"action": "error", "error": {"code": code, "message": message}}
