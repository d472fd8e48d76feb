"""Shared fixtures. moto is imported first, before any boto3 session can exist."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import moto
import pytest
from hypothesis import settings

#: Property tests check what code does, not how fast: hypothesis's per-example deadline (200 ms)
#: failed a pure cursor test once when the shared 2-core machine stalled (428 ms, then 0.11 ms).
#: Speed is measured in bench/, never in tests.
settings.register_profile("conductor", deadline=None)
settings.load_profile("conductor")

# Tests never reach AWS: fake credentials, a fixed region, no endpoint override, no X-Ray.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "CONDUCTOR_XRAY": "false",
        "CONDUCTOR_STAGE": "test",
        "CONDUCTOR_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",  # test receivers listen on loopback
        # tests that inject a clock tick at made-up times while SQS delays are real seconds: the
        # look-ahead (runs sent ahead with a delay) is on only where a test turns it on, and end to
        # end (tests/e2e runs the local runtime with the default)
        "CONDUCTOR_SCHEDULER_LOOKAHEAD_SECONDS": "0",
    }
)
for _var in (
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "CONDUCTOR_WS_ENDPOINT",
    "CONDUCTOR_WS_URL",
):
    os.environ.pop(_var, None)

from devserver import routing  # noqa: E402
from devserver.motofix import serialize_dynamodb  # noqa: E402

routing.install()
serialize_dynamodb()  # moto's transactions are not thread-safe (devserver/motofix.py)


@pytest.fixture(autouse=True)
def _no_dns() -> Iterator[None]:
    """Tests send nothing beyond loopback, DNS included: names resolve from a fixed table.

    (Not through ``monkeypatch``: an autouse fixture would set it up before ``aws``, and undo
    other tests' patches of ``deps`` only after ``aws`` has reset them.)"""
    import ipaddress

    from chalicelib.domain import ssrf

    def resolve(host: str, port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            pass
        if host == "localhost":
            return ["127.0.0.1"]
        raise ssrf.ForbiddenTarget(f"{host} does not resolve")

    original = ssrf.system_resolver
    ssrf.system_resolver = resolve
    try:
        yield
    finally:
        ssrf.system_resolver = original


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _events_match_the_catalog() -> Iterator[None]:
    """Every event a test makes has the ``data`` its catalog entry declares (the documented
    webhook payloads, /v2/openapi.json ``webhooks``); a mismatch fails the test that made it."""
    collect = _Collect()
    logger = logging.getLogger("conductor.events.schema")
    logger.addHandler(collect)
    try:
        yield
    finally:
        logger.removeHandler(collect)
    drift = [getattr(r, "fields", r.getMessage()) for r in collect.records]
    assert not drift, f"events whose data differs from chalicelib/domain/events.py: {drift}"


@pytest.fixture
def aws() -> Iterator[dict[str, str]]:
    """moto in-process with every resource of infra/template.yaml created for stage ``test``.

    AWS answers each call on its own; moto in-process shares dicts between the threads of one
    handler (a webhook batch delivers in 10), and one call could see another's half-made change
    ("dictionary changed size during iteration"). So each mocked call runs alone, as one
    request to AWS does.
    """
    from moto.core.botocore_stubber import BotocoreStubber

    from chalicelib import aws as aws_factory
    from chalicelib import deps
    from devserver.provision import provision

    lock, call = threading.RLock(), BotocoreStubber.__call__

    def one_at_a_time(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return call(self, *args, **kwargs)

    BotocoreStubber.__call__ = one_at_a_time  # type: ignore[method-assign]
    try:
        with moto.mock_aws():
            deps.reset()
            created = provision(aws_factory.client("dynamodb"), aws_factory.client("sqs"), "test")
            yield created
            deps.reset()
    finally:
        BotocoreStubber.__call__ = call  # type: ignore[method-assign]


@pytest.fixture
def app() -> Any:
    import app as app_module

    return app_module.app


@pytest.fixture
def client(aws: dict[str, str], app: Any) -> Iterator[Any]:
    from chalice.test import Client

    with Client(app) as test_client:
        yield test_client


def body(response: Any) -> Any:
    """A test client response's JSON body (None when empty)."""
    import json

    return json.loads(response.body) if response.body else None


#: A Monday morning, just before a minute boundary: the fixed "now" of schedule-minded tests.
T0 = datetime(2026, 11, 30, 8, 59, 30, tzinfo=UTC)


@pytest.fixture
def fixed_clock(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The services' clock standing at ``T0`` until the test moves it."""
    clock = Clock(T0)
    monkeypatch.setattr("chalicelib.deps.clock", clock)
    return clock


class Clock:
    """A clock the test moves by hand (services take clocks as arguments)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def queue_messages(queue_name: str, max_messages: int = 10) -> list[dict[str, Any]]:
    """Drain up to ``max_messages`` from a queue (bounded: at most 10 receives)."""
    from chalicelib import aws as aws_factory

    sqs = aws_factory.client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    found: list[dict[str, Any]] = []
    for _ in range(10):
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", []
        )
        if not batch:
            break
        found += batch
        if len(found) >= max_messages:
            break
    return found


class Api:
    """The Chalice test client with an API key on every request (``key=None`` sends none)."""

    def __init__(self, client: Any, key: str | None) -> None:
        self.client = client
        self.key = key

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        key: str | None | bool = True,
    ) -> Any:
        import json

        sent = {"Content-Type": "application/json"} if body is not None else {}
        chosen = self.key if key is True else key
        if chosen:
            sent["Authorization"] = f"Bearer {chosen}"
        sent.update(headers or {})
        raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        return self.client.http.request(method, path, headers=sent, body=raw or b"")

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def keys(aws: dict[str, str]) -> dict[str, str]:
    """One API key per role (secrets), created through the service (as set-up: no
    ``api_key.created`` events, so tests see only the events they cause)."""
    from chalicelib.services.api_keys import ApiKeyService
    from chalicelib.store.api_keys import ApiKeyStore

    service = ApiKeyService(ApiKeyStore())
    return {role: service.create(f"test {role}", role)[1] for role in ("admin", "operator", "viewer")}


@pytest.fixture
def api(client: Any, keys: dict[str, str]) -> Api:
    """Calls as an operator by default; pass ``key=keys["viewer"]`` etc. to change."""
    return Api(client, keys["operator"])


@pytest.fixture
def app_module(aws: dict[str, str]) -> Any:
    """The ``app`` module, whose attributes are the Lambda handlers."""
    import app

    return app


@pytest.fixture
def target() -> Iterator[Any]:
    """A real HTTP receiver on 127.0.0.1 answering 200 (``set_script`` changes that)."""
    from tests.functional.receivers import receiver

    with receiver([(200, {})]) as state:
        yield state


@pytest.fixture
def clock(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The services' clock, standing at now (whole seconds) until the test moves it."""
    from datetime import UTC

    from chalicelib import deps

    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    monkeypatch.setattr(deps, "clock", clock)
    return clock
