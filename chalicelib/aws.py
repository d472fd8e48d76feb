"""The one place AWS clients are made: lazily, cached, pointed at moto or AWS by configuration.

Clients come from one botocore session, not boto3's: boto3 adds nothing a client needs and its
import (~20-25 ms on top of botocore's, s3transfer among it) would be paid on every cold start.

``AWS_ENDPOINT_URL`` (read through the settings) sends every client to the same endpoint, which is
how the local runtime and the end-to-end tests talk to moto's server. Tracing is switched on before
the first client exists, because X-Ray can only instrument clients created after it patches botocore.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

from chalicelib.config import get_settings, reset_settings
from chalicelib.tracing import init_tracing

if TYPE_CHECKING:  # pragma: no cover
    import botocore.session

_lock = threading.Lock()


@functools.cache
def _session() -> botocore.session.Session:
    import botocore.session  # noqa: PLC0415 - imported on first use, not on cold start

    return botocore.session.get_session()


_clients: dict[tuple[str, str | None], Any] = {}


def _client(service: str, endpoint_url: str | None) -> Any:
    """One client per (service, endpoint) per container: threads that ask for it first at the same
    time (a batch's workers, the fan-out's posts) wait for the one being made, not make their own."""
    key = (service, endpoint_url)
    made = _clients.get(key)
    if made is not None:
        return made
    from botocore.config import Config  # noqa: PLC0415

    init_tracing()
    with _lock:  # botocore sessions are not thread-safe while they build clients
        if key not in _clients:
            config = Config(
                connect_timeout=3,
                read_timeout=10,
                retries={"max_attempts": 3, "mode": "standard"},
                max_pool_connections=32,
            )
            _clients[key] = _session().create_client(
                service, region_name=get_settings().region, endpoint_url=endpoint_url, config=config
            )
        return _clients[key]


def client(service: str, endpoint_url: str | None = None) -> Any:
    """A cached client; ``endpoint_url`` overrides the configured one (WebSocket endpoints)."""
    return _client(service, endpoint_url or get_settings().endpoint_url)


class LazyClient:
    """A client made on its first use: wiring a service that may send to SQS does not make an
    SQS client (~0.1 s of a cold start) for a request that never sends."""

    def __init__(self, service: str) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(client(self._service), name)


def lazy_client(service: str) -> Any:
    return LazyClient(service)


def reset() -> None:
    """Drop cached clients and settings so the next call sees the current environment."""
    with _lock:
        _clients.clear()
    _session.cache_clear()
    reset_settings()
