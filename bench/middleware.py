"""Per-request cost of the HTTP conventions: a GET through request id + versioning + auth + rate
limit + route guard, against the same view with all of it off, measured alternately in one run.

Three variants of `GET /v2/events/types` (a view that touches no table, so only the conventions
differ), each called through Chalice's test client (the same event path API Gateway drives):
  bare        the view on a plain Chalice app: no middleware, no guard
  full/memory Conductor's app, auth and rate limiting on in-memory stores: our code's own cost
  full/moto   Conductor's app on DynamoDB (moto in-process): + 1 conditional UpdateItem (the
              caller's bucket); the key is cached by the container (10 s) and the request's
              counters are summed in memory (written every 10 s); moto's per-call cost is not
              DynamoDB's, so read this one as an upper bound of the Python work around that call
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "CONDUCTOR_XRAY": "false",
        "CONDUCTOR_STAGE": "bench",
        "CONDUCTOR_RATE_LIMITS": '{"read": {"quota": 1000000000, "window_seconds": 1}}',
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import moto

from devserver import routing
from devserver.motofix import serialize_dynamodb

routing.install()


class MemoryMetrics:
    """Stands in for the metrics table: counts requests in a dict."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}

    def request(self, status: int, duration_ms: float, route: str | None = None) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1

    def flush_if_due(self) -> None:
        """Nothing is pending: counts live in the dict."""


class MemoryKeys:
    """Stands in for the API keys table: the same lookup by hash, from a dict."""

    def __init__(self) -> None:
        self.records: dict[str, Any] = {}

    def get_by_hash(self, key_hash: str) -> Any:
        return self.records.get(key_hash)


def timed(client: Any, path: str, headers: dict[str, str], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        response = client.http.get(path, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.body!r}")
    return (time.perf_counter() - started) / n


def calls_per_request(client: Any, headers: dict[str, str], n: int = 20) -> float:
    """The AWS calls one request makes on moto, counted."""
    import botocore.client

    counted: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: Any) -> Any:
        counted.append(operation)
        return real(self, operation, params)

    botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
    try:
        timed(client, "/v2/events/types", headers, n)
    finally:
        botocore.client.BaseClient._make_api_call = real  # type: ignore[method-assign]
    return len(counted) / n


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    print(
        f"bench/middleware.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )

    from chalice import Chalice
    from chalice.test import Client

    import app as conductor
    from chalicelib import aws, deps
    from chalicelib.api.events import list_event_types
    from chalicelib.domain.keys import hash_key
    from chalicelib.services.auth import Authenticator
    from chalicelib.services.ratelimits import RateLimiter, parse_policies
    from chalicelib.store.rate_limits import MemoryBucketStore
    from devserver.provision import provision

    for handler in conductor.app.log.handlers:  # the JSON log line is written, to nowhere
        handler.stream = open(os.devnull, "w")  # noqa: SIM115

    bare = Chalice(app_name="bare")
    bare.route("/v2/events/types", methods=["GET"])(list_event_types)

    serialize_dynamodb()  # moto's transactions are not thread-safe

    with moto.mock_aws():
        deps.reset()
        provision(aws.client("dynamodb"), aws.client("sqs"), "bench")
        key = deps.api_keys().create("bench", "viewer")[1]
        moto_auth, moto_limiter = deps.authenticator(), deps.rate_limiter()
        moto_metrics = deps.metrics()
        memory_keys = MemoryKeys()
        memory_keys.records[hash_key(key)] = type(
            "Rec",
            (),
            {"id": "key_bench", "name": "bench", "role": "viewer", "revoked_at": None, "rate_limits": None},
        )()
        memory_auth = Authenticator(memory_keys)  # type: ignore[arg-type]
        memory_limiter = RateLimiter(
            MemoryBucketStore(), parse_policies({"read": {"quota": 10**9, "window_seconds": 1}})
        )
        headers = {"Authorization": f"Bearer {key}"}
        variants = {
            "bare": (bare, None),
            "full/memory": (conductor.app, (memory_auth, memory_limiter, MemoryMetrics())),
            "full/moto": (conductor.app, (moto_auth, moto_limiter, moto_metrics)),
        }
        samples: dict[str, list[float]] = {name: [] for name in variants}
        with Client(bare) as bare_client, Client(conductor.app) as app_client:
            clients = {"bare": bare_client, "full/memory": app_client, "full/moto": app_client}
            for name in variants:  # warm up
                _use(deps, variants[name][1])
                timed(clients[name], "/v2/events/types", headers, 20)
            for _ in range(args.rounds):
                for name, (_app, services) in variants.items():
                    _use(deps, services)
                    samples[name].append(timed(clients[name], "/v2/events/types", headers, args.requests))
        _use(deps, variants["full/moto"][1])
        calls = calls_per_request(clients["full/moto"], headers)
    medians = {name: statistics.median(v) for name, v in samples.items()}
    base = medians["bare"]
    print(
        f"GET /v2/events/types, {args.rounds} alternating rounds x {args.requests} requests, "
        "median per request"
    )
    for name, value in medians.items():
        print(f"  {name:12s} {value * 1e6:9.1f} us  ({value / base:.2f}x bare)")
    print(
        f"middleware ratio (full/memory / bare): {medians['full/memory'] / base:.2f}x; "
        f"added per request: {(medians['full/memory'] - base) * 1e6:.0f} us of Python, "
        f"{(medians['full/moto'] - medians['full/memory']) * 1e6:.0f} us for {calls:.1f} "
        "DynamoDB calls on moto"
    )
    return 0


def _use(deps: Any, services: tuple[Any, Any, Any] | None) -> None:
    if services is not None:
        deps.authenticator = lambda: services[0]
        deps.rate_limiter = lambda: services[1]
        deps.metrics = lambda: services[2]


if __name__ == "__main__":
    sys.exit(main())
