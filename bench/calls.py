"""AWS calls of every route and every handler, per request or per item, with 100 and with 10,000
stored items (moto in-process; calls are exact, times are not measured here).

For each size the same world is built: one sample of each resource (made through the API), and
``n`` filler items per table written straight to DynamoDB in the partitions the sample's reads
go through (so a filtered list that reads whole partitions shows it). Every declared route is
called once warm, with the request body recorded in ``chalicelib/api/examples.json``; batch
routes with 100 items (calls per item); the queue handlers with one message (a retry attempt, a
webhook delivery, a schedule run) and the minute tick. The table puts each row's goal (issue 17)
beside it.

    python bench/calls.py                 # 100 and 10,000
    python bench/calls.py --sizes 100     # quick
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
        "CONDUCTOR_OUTBOUND_ALLOW_NETWORKS": "127.0.0.0/8",
        "CONDUCTOR_RATE_LIMITS": json.dumps(
            {c: {"quota": 10**9, "window_seconds": 1} for c in ("read", "write", "batch", "admin")}
        ),
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import moto

from devserver.motofix import serialize_dynamodb
from tests.functional.aws_calls import count_calls

EXAMPLES = json.loads(
    (Path(__file__).resolve().parent.parent / "chalicelib" / "api" / "examples.json").read_text()
)
REQUEST_GOAL = "<= 1 + its own"
#: goals by row name (issue 17); a row without one is held to "same calls at 10,000 as at 100"
GOALS = {
    "GET /v2/events/types": "<= 1",
    "GET /v2/schedules/{schedule_id}": "<= 2",
    "POST /v2/errors/retry": "<= 4",
    "GET /v2/events": "<= 3 + 1",
    "retry attempt": "<= 5 (a batch of 10)",
    "webhook delivery": "<= 3 (a batch of 10)",
    "batch of 100, per item": "<= 2.5",
    "fan-out to 3 endpoints + 20 sockets": "20 + <= 3 + 3 / 10",
}


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver and retry target on 127.0.0.1 that answers 200."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_PUT = do_DELETE = do_POST

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()


DETAIL: dict[str, dict[str, int]] = {}


def total(calls: Counter[str]) -> int:
    return sum(calls.values())


class World:
    """One stage on moto with samples and ``n`` filler items per table."""

    def __init__(self, n: int, target: str) -> None:
        from chalice.test import Client

        import app as conductor
        from chalicelib import aws, deps
        from devserver.provision import provision

        for handler in conductor.app.log.handlers:  # the JSON log lines go nowhere
            handler.stream = open(os.devnull, "w")  # noqa: SIM115
        deps.reset()
        provision(aws.client("dynamodb"), aws.client("sqs"), "bench")
        # the container's periodic metrics write (every 10 s) is made by ``measure`` before each
        # row, never inside one: a row is its call's own cost at any speed of this machine
        deps.metrics()._flush_seconds = float("inf")
        # and the key stays cached (10 s in a container): a slower run's row is not charged
        # the key's periodic read either
        deps.authenticator()._cache_seconds = float("inf")
        self.deps, self.n, self.target = deps, n, target
        self.client = Client(conductor.app)
        self.key = deps.api_keys().create("bench", "admin")[1]
        self.samples = self._samples()
        self._fill(n)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        response = self.client.http.request(
            method, path, headers=headers, body=json.dumps(body).encode() if body is not None else b""
        )
        if response.status_code >= 500:
            raise SystemExit(f"{method} {path}: {response.status_code} {response.body[:300]!r}")
        self.status = response.status_code
        return json.loads(response.body) if response.body else None

    def _samples(self) -> dict[str, str]:
        http = {"type": "http", "url": self.target, "method": "POST"}
        schedule = self.call(
            "POST",
            "/v2/schedules",
            {
                "name": "sample",
                "expression": "rate(5 minutes)",
                "target": http,
                "retry_policy": {"max_attempts": 1},
                "tags": ["rare"],
            },
        )
        endpoint = self.call("POST", "/v2/webhooks", {"url": self.target, "event_types": ["custom.*"]})
        event = self.call("POST", "/v2/events", {"type": "custom.sample", "data": {}})
        delivery = self.deps.fan_out().publish(self.deps.event_bus().get(event["id"]))[0]
        assert delivery == 1
        deliveries = self.call("GET", f"/v2/webhooks/{endpoint['id']}/deliveries")["items"]
        job = self.call(
            "POST",
            "/v2/errors/retry",
            {
                "service": "rare",
                "target": http,
                "error": {"type": "E", "message": "m"},
                "retry_policy": {"max_attempts": 2},
            },
        )
        dead = self.call(
            "POST",
            "/v2/errors/retry",
            {
                "service": "rare",
                "target": http,
                "error": {"type": "Fatal", "message": "m"},
                "retry_policy": {"non_retryable": ["Fatal"]},
            },
        )
        other = self.call("POST", "/v2/api-keys", {"name": "other", "role": "viewer"})
        return {
            "key_id": other["id"],
            "schedule_id": schedule["id"],
            "webhook_id": endpoint["id"],
            "delivery_id": deliveries[0]["id"],
            "job_id": job["id"],
            "dead_letter_id": dead["dead_letter_id"],
            "service": "rare",
            "event_id": event["id"],
        }

    def _fill(self, n: int) -> None:
        """``n`` items per table in the partitions the samples' reads go through."""
        from chalicelib.domain.timeutil import to_iso
        from chalicelib.store import models
        from chalicelib.store.base import bind

        now = datetime.now(UTC)
        stamp = to_iso(now - timedelta(hours=1))
        tables = {
            "retry_jobs": lambda i: models.RetryJobRecord(
                id=f"rty_F{i:025d}",
                status="scheduled",
                service="rare",
                created_at=stamp,
                created_sk=f"{stamp}#{i:08d}",
                updated_at=stamp,
                target={},
                error={},
                policy={},
                attempts=[],
                attempt_count=0,
                service_status="rare#scheduled",
            ),
            "dead_letters": lambda i: models.DeadLetterRecord(
                id=f"dlq_F{i:025d}",
                status="open",
                source="sqs:filler",
                service="filler",
                fingerprint="f",
                created_at=stamp,
                created_sk=f"{stamp}#{i:08d}",
                error={},
                payload={},
                attempts=1,
            ),
            "schedules": lambda i: models.ScheduleRecord(
                id=f"sch_F{i:025d}",
                name="filler",
                expression="rate(1 day)",
                timezone="UTC",
                overlap_policy="skip",
                catchup="skip",
                catchup_window_seconds=60,
                enabled="true",
                target={},
                retry_policy={},
                tags=["filler"],
                version=1,
                anchor=stamp,
                created_at=stamp,
                created_sk=f"{stamp}#{i:08d}",
                updated_at=stamp,
            ),
            "deliveries": lambda i: models.DeliveryRecord(
                id=f"dlv_F{i:025d}",
                webhook_id=self.samples["webhook_id"],
                event_id="evt_x",
                event_type="custom.filler",
                payload="{}",
                status="failed",
                max_attempts=3,
                created_at=stamp,
                created_sk=f"{stamp}#{i:08d}",
                updated_at=stamp,
                expires_at=int(now.timestamp()) + 86400,
                webhook_status=f"{self.samples['webhook_id']}#failed",
                type_status=f"{self.samples['webhook_id']}#custom.filler#failed",
            ),
            "executions": lambda i: models.ExecutionRecord(
                schedule_id=self.samples["schedule_id"],
                sort_key=f"{stamp}#exe_F{i:025d}",
                id=f"exe_F{i:025d}",
                scheduled_for=stamp,
                trigger="scheduled",
                status="failed",
                created_at=stamp,
                expires_at=int(now.timestamp()) - 60,  # expired, not gone
                live_sk=f"{int(now.timestamp()) - 60:012d}#{stamp}#exe_F{i:025d}",
            ),
        }
        classes = {
            "retry_jobs": models.RetryJobRecord,
            "dead_letters": models.DeadLetterRecord,
            "schedules": models.ScheduleRecord,
            "deliveries": models.DeliveryRecord,
            "executions": models.ExecutionRecord,
        }
        for table, make in tables.items():
            model = bind(classes[table], table)
            with model.batch_write() as batch:
                for i in range(n):
                    batch.save(make(i))
        metrics = self.deps.metrics()
        for i in range(min(n, 3000)):  # per-subject counters, as many subjects as items
            metrics.count("webhooks", f"whk_F{i:025d}", {"attempts": 1, "delivered": 1}, ("latency", 10.0))

    def measure(self, action: Callable[[], Any]) -> Counter[str]:
        """The calls ``action`` makes; counts pending from earlier work are written first (they
        are that work's cost, paid every few seconds per container, not this call's)."""
        self.deps.metrics().flush()
        with count_calls() as calls:
            action()
        self.last = dict(calls)
        return calls


def rows_for(world: World) -> dict[str, float]:
    """Calls per row: every route (GETs warm, writes once), batches per item, handlers."""
    from chalicelib.api.routing import ROUTES

    s, rows = world.samples, {}
    world.call("GET", "/v2/events/types")  # warm: key, bucket, clients
    deletes = [r for r in ROUTES if r.method == "DELETE"]
    for spec in [r for r in ROUTES if r.method != "DELETE"] + [None] + deletes:
        if spec is None:  # the handlers, before anything is deleted
            rows.update(handlers(world))
            continue
        if spec.path.startswith("/batch/") or spec.path in ("/webhooks/{webhook_id}/recover",):
            continue
        path = "/v2" + spec.path.format(
            **{
                k: s.get(k, "x")
                for k in (
                    "schedule_id",
                    "webhook_id",
                    "delivery_id",
                    "job_id",
                    "dead_letter_id",
                    "event_id",
                    "key_id",
                    "service",
                )
            }
        )
        query = {
            "/errors/retry": "?service=rare&status=resolved",
            "/dlq": "?source=retry_job",
            "/schedules": "?tag=rare",
            "/webhooks/{webhook_id}/deliveries": "?status=skipped",
            "/metrics/history": "?metric=api",
        }.get(spec.path, "")
        body = (
            local((EXAMPLES.get(spec.operation_id) or {}).get("request"), world.target, s)
            if spec.body
            else None
        )
        if spec.path == "/errors/resolve":
            body = {"id": s["job_id"], "note": "bench"}
        if spec.method == "PUT" and isinstance(body, dict):
            body.pop("version", None)  # an unconditional replace
        if spec.path.endswith("/backfill"):
            end = datetime.now(UTC) - timedelta(hours=1)
            body = {"from": (end - timedelta(hours=1)).isoformat(), "to": end.isoformat()}
        if spec.method == "GET":
            world.call("GET", path + query)
        calls = total(world.measure(lambda p=path + query, b=body, m=spec.method: world.call(m, p, b)))
        status = "" if world.status < 300 else f" (answered {world.status})"
        rows[f"{spec.method} /v2{spec.path}{status}"] = calls
        DETAIL[f"{spec.method} /v2{spec.path}"] = world.last
    return rows


def local(body: Any, target: str, samples: dict[str, str]) -> Any:
    """A recorded example with its URLs pointed at the local receiver and its ids at samples."""
    if isinstance(body, dict):
        return {
            k: target
            if k == "url"
            else samples.get(k, local(v, target, samples))
            if k.endswith("_id")
            else local(v, target, samples)
            for k, v in body.items()
            if k != "headers"
        }  # masked values: nothing stored to keep here
    if isinstance(body, list):
        return [local(v, target, samples) for v in body]
    return body


def handlers(world: World) -> dict[str, float]:
    """The queue handlers and batches, per message or per item."""
    from chalicelib import aws

    deps, rows = world.deps, {}
    sqs = aws.client("sqs")

    def take(queue: str) -> list[str]:
        url = sqs.get_queue_url(QueueName=f"conductor-bench-{queue}")["QueueUrl"]
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [m["Body"] for m in got]

    for queue in ("retries", "webhook-deliveries", "executions"):
        take(queue)  # what setting up queued
    import app as conductor
    from devserver.lambdas import context_for, sqs_event

    def batch_of(queue: str, handler: str, make: Callable[[], Any]) -> float:
        """One SQS batch of 10 through its Lambda handler: calls per message."""
        for _ in range(10):
            make()
        url = sqs.get_queue_url(QueueName=f"conductor-bench-{queue}")["QueueUrl"]
        messages: list[dict[str, Any]] = []
        for _ in range(10):  # bounded: at most 10 receives
            messages += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
                "Messages", []
            )
            if len(messages) >= 10:
                break
        event = sqs_event(
            messages[:10], f"arn:aws:sqs:us-east-1:123456789012:conductor-bench-{queue}", "us-east-1"
        )
        calls = world.measure(lambda: getattr(conductor, handler)(event, context_for(handler)))
        DETAIL[queue] = world.last
        return round(total(calls) / len(messages[:10]), 2)

    http = {"type": "http", "url": world.target, "method": "POST"}
    rows["retry attempt"] = batch_of(
        "retries",
        "run_retry_attempts",
        lambda: world.call(
            "POST",
            "/v2/errors/retry",
            {
                "service": "bench-attempt",
                "target": http,
                "error": {"type": "E", "message": "m"},
                "retry_policy": {"initial_delay_seconds": 0, "jitter": "none"},
            },
        ),
    )
    for _ in range(3):
        world.call("POST", "/v2/webhooks", {"url": world.target, "event_types": ["custom.fan"]})
    realtime = deps.realtime()
    for i in range(20):
        # moto answers this host in-process (tests use the same): nothing leaves the machine
        realtime.connect(f"bench-{i}=", "https://bench.execute-api.us-east-1.amazonaws.com/api")
        realtime.handle_message(f"bench-{i}=", json.dumps({"action": "subscribe", "events": ["custom.fan"]}))
    from chalicelib.domain.events import make_event  # made, not published: only the fan-out

    fanned = make_event("custom.fan", {}, datetime.now(UTC))
    rows["fan-out to 3 endpoints + 20 sockets"] = total(world.measure(lambda: deps.fan_out().publish(fanned)))
    DETAIL["fan-out"] = world.last
    world.call("POST", "/v2/webhooks", {"url": world.target, "event_types": ["custom.bench"]})
    rows["webhook delivery"] = batch_of(
        "webhook-deliveries",
        "deliver_webhooks",
        lambda: (deps.fan_out().publish(deps.event_bus().publish("custom.bench", {}))),
    )
    rows["schedule run"] = batch_of(
        "executions",
        "run_schedule_executions",
        lambda: world.call("POST", f"/v2/schedules/{world.samples['schedule_id']}/execute"),
    )
    rows["minute tick"] = total(world.measure(lambda: deps.scheduler().tick()))
    rows["reconciler, nothing overdue"] = total(world.measure(lambda: deps.reconciler().run()))
    DETAIL.update({name: world.last for name in ("minute tick",)})
    items = [
        {"service": "batch", "target": http, "error": {"type": "E", "message": "m"}, "retry_policy": {}}
        for _ in range(100)
    ]
    rows["batch of 100, per item"] = (
        total(world.measure(lambda: world.call("POST", "/v2/batch/errors/retry", {"items": items}))) / 100
    )
    recovered: dict[str, Any] = {}
    calls = total(
        world.measure(
            lambda: recovered.update(
                world.call(
                    "POST",
                    f"/v2/webhooks/{world.samples['webhook_id']}/recover",
                    {"since": "2026-01-01T00:00:00Z"},
                )
            )
        )
    )
    rows["recover: deliveries sent again"] = recovered["redelivered"]
    rows["recover, per delivery"] = round(calls / max(1, recovered["redelivered"]), 2)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, dict[str, float]] = {}
    serialize_dynamodb()  # moto's transactions are not thread-safe (devserver/motofix.py)
    with receiver() as target:
        for n in sizes:
            with moto.mock_aws():
                results[n] = rows_for(World(n, target))
    if os.environ.get("BENCH_DETAIL"):
        for name, detail in DETAIL.items():
            print(f"{name}: {detail}")
    print(
        f"bench/calls.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    names = list(results[sizes[0]])
    header = " | ".join(f"{n:,} items" for n in sizes)
    print(f"| route or handler | {header} | goal |")
    print("|---|" + "---:|" * len(sizes) + "---|")
    for name in names:
        values = " | ".join(f"{results[n].get(name, 0):g}" for n in sizes)
        grows = len(sizes) > 1 and results[sizes[-1]].get(name) != results[sizes[0]].get(name)
        goal = GOALS.get(name, "same at every size")
        print(f"| {name} | {values} | {goal}{' — grows' if grows else ''} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
