"""A WebSocket connection: where to reach it, which event patterns it follows, whose key opened it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Connection:
    id: str  # API Gateway's connection id
    endpoint: str  # the management API it is reached through
    connected_at: str
    expires_at: int
    patterns: tuple[str, ...] = ()
    key_id: str | None = None
