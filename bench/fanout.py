"""Real-time fan-out and dashboard cost.

1. One event pushed to 1,000 subscribed WebSocket connections against 10, through the local
   runtime's gateway (real sockets, the @connections API over HTTP, moto's server): wall time
   until every client has it, and the AWS calls the fan-out made. Run alternately; the ratio is
   printed.
2. The AWS calls of each dashboard endpoint with 100 and with 10,000 stored executions
   (including the 3 UpdateItems with which each API request counts itself).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("CONDUCTOR_ADMIN_KEY", "cnd_bench-fanout-admin-key-000000000000")

import websockets

from tests.functional.aws_calls import count_calls

DASHBOARD = (
    "/v2/dashboard/overview",
    "/v2/dashboard/errors",
    "/v2/dashboard/schedules",
    "/v2/dashboard/webhooks",
    "/v2/dashboard/timeline",
    "/v2/metrics/summary",
)


async def connect(url: str, count: int, event_type: str) -> list[Any]:
    sockets = []
    for start in range(0, count, 50):  # 50 at a time: the gateway runs $connect in a pool
        batch = await asyncio.gather(
            *(
                websockets.connect(url, open_timeout=60, max_queue=None)
                for _ in range(start, min(count, start + 50))
            )
        )
        for socket in batch:
            await socket.send(json.dumps({"action": "subscribe", "events": [event_type]}))
        for socket in batch:
            await asyncio.wait_for(socket.recv(), 60)  # the ack
        sockets += batch
    return sockets


async def receive_all(sockets: list[Any]) -> list[str]:
    return await asyncio.wait_for(asyncio.gather(*(s.recv() for s in sockets)), 120)


def push(sockets: list[Any], event_type: str, loop: asyncio.AbstractEventLoop) -> tuple[float, int]:
    from chalicelib import deps
    from chalicelib.domain.events import make_event
    from chalicelib.domain.timeutil import utcnow

    # made, not published: publishing would also queue it for the runtime's own fan-out handler
    event = make_event(event_type, {}, utcnow())
    started = time.perf_counter()
    with count_calls() as calls:
        delivered = deps.fan_out().publish(event)[1]
    calls.pop("ReceiveMessage", None)  # the runtime's idle SQS pollers, not the fan-out
    received = loop.run_until_complete(receive_all(sockets))
    elapsed = time.perf_counter() - started
    assert delivered == len(sockets), (delivered, len(sockets))
    assert all(json.loads(r)["event"]["id"] == event.id for r in received)
    return elapsed, sum(calls.values())


def dashboard_calls(api: str, key: str) -> dict[str, int]:
    import requests

    counts = {}
    for path in DASHBOARD:
        with count_calls() as calls:  # the runtime serves in this process: its calls count
            assert (
                requests.get(api + path, headers={"Authorization": f"Bearer {key}"}, timeout=60).status_code
                == 200
            )
        calls.pop("ReceiveMessage", None)  # the runtime's idle SQS pollers
        counts[path] = sum(calls.values())
    return counts


def store_executions(total: int) -> None:
    from chalicelib.store.schedules import ExecutionStore

    store = ExecutionStore()
    with store._model.batch_write() as batch:
        for i in range(total):
            batch.save(
                store._model(
                    schedule_id=f"sch_{i % 100:026d}",
                    sort_key=f"2026-11-29T00:00:{i:06d}",
                    id=f"exe_{i:026d}",
                    scheduled_for="2026-11-29T00:00:00.000Z",
                    trigger="scheduled",
                    status="succeeded",
                    created_at="2026-11-29T00:00:00.000Z",
                    expires_at=2**40,
                )
            )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--large", type=int, default=1000)
    parser.add_argument("--executions", type=int, default=10_000)
    args = parser.parse_args()
    from devserver.runtime import LocalRuntime, RuntimeOptions, free_port

    runtime = LocalRuntime(
        RuntimeOptions(port=free_port(), ws_port=free_port(), admin_key=os.environ["CONDUCTOR_ADMIN_KEY"])
    )
    runtime.start()
    import logging

    logging.disable(logging.INFO)
    loop = asyncio.new_event_loop()
    try:
        # the dashboard first, while nothing else runs (the gateway's handlers would count too)
        dashboard_calls(runtime.api_url, runtime.admin_key)  # warm: clients, queue URLs
        store_executions(100)
        with_100 = dashboard_calls(runtime.api_url, runtime.admin_key)
        store_executions(args.executions - 100)
        with_many = dashboard_calls(runtime.api_url, runtime.admin_key)
        url = f"{runtime.ws_url}/?token={runtime.admin_key}"
        small = loop.run_until_complete(connect(url, 10, "custom.small"))
        large = loop.run_until_complete(connect(url, args.large, "custom.large"))
        results: dict[int, list[tuple[float, int]]] = {10: [], args.large: []}
        for _ in range(args.rounds):
            results[10].append(push(small, "custom.small", loop))
            results[args.large].append(push(large, "custom.large", loop))
        print(f"fan-out of one event through the local gateway, {args.rounds} alternating rounds")
        medians = {}
        for count, runs in results.items():
            medians[count] = statistics.median(t for t, _ in runs)
            print(f"  {count:>5} connections: {medians[count] * 1000:8.0f} ms, {runs[-1][1]} AWS calls")
        print(f"time ratio ({args.large} / 10 connections): {medians[args.large] / medians[10]:.1f}x")
        print(f"dashboard AWS calls with 100 vs {args.executions} stored executions")
        for path in DASHBOARD:
            print(f"  {path:28s} {with_100[path]:3d} vs {with_many[path]:3d}")
        for socket in small + large:
            loop.run_until_complete(socket.close())
    finally:
        loop.close()
        runtime.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
