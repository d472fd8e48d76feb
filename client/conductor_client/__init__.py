"""Conductor's Python client::

from conductor_client import Conductor
conductor = Conductor("http://127.0.0.1:8000", key="cnd_...")  # or CONDUCTOR_URL/CONDUCTOR_KEY
schedule = conductor.schedules.create("nightly", "cron(0 2 * * *)",
                                      {"type": "http", "url": "https://example.com/run"})
for job in conductor.retries.list(status="dead_lettered"):
    print(job["id"], job["error"]["type"])
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import requests

from conductor_client._http import ConductorError, Transport
from conductor_client.realtime import subscribe
from conductor_client.resources import (
    ApiKeys,
    Breakers,
    DeadLetters,
    Events,
    Metrics,
    Retries,
    Schedules,
    Webhooks,
)

__all__ = ["Conductor", "ConductorError"]
__version__ = "0.1.0"


class Conductor:
    """One client per API and key; thread-safe for reads the way a ``requests.Session`` is."""

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = 30,
        max_retries: int = 3,
        page_size: int = 100,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.http = Transport(
            url, key, timeout=timeout, max_retries=max_retries, page_size=page_size, session=session, **extra
        )
        self.schedules = Schedules(self.http)
        self.retries = Retries(self.http)
        self.breakers = Breakers(self.http)
        self.dlq = DeadLetters(self.http)
        self.webhooks = Webhooks(self.http)
        self.events = Events(self.http)
        self.api_keys = ApiKeys(self.http)
        self.metrics = Metrics(self.http)

    @property
    def url(self) -> str:
        return self.http.base

    def subscribe(
        self, patterns: list[str], *, after: str | None = None, reconnect: bool = True
    ) -> AsyncIterator[dict[str, Any]]:
        """``async for event in conductor.subscribe(["schedule.*"]): ...`` (see realtime.py)."""
        return subscribe(self.http, patterns, after=after, reconnect=reconnect)
