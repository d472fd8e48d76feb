"""The midnight herd: N schedules due in one minute, found by the tick, fired by dispatch workers.

Prints, for 1,000 and 10,000 due (moto in-process, one run):
- AWS calls per due run on the tick path (finding them) and on the dispatch path (firing them),
- the longest chain of sequential AWS calls (the tick's, then a shard's pages, then one worker's),
- runs sent twice and runs never sent (both must be 0), with a second, racing tick included;
then, on the real clock, how late runs start against their planned start (`start_delay_ms`:
`started_at − scheduled_for − offset`) for cron, rate and at() schedules, through the executor;
then the deployed estimate for 10,000, 100,000 and 1,000,000 due (calls on the critical path ×
5 ms, with the parallelism the design gives and the limits it meets).

moto's per-call cost is not DynamoDB's: compare the counts; the milliseconds are local figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
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
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import moto

from devserver.motofix import serialize_dynamodb
from tests.functional.aws_calls import count_calls

T0 = datetime(2026, 11, 30, 23, 59, 30, tzinfo=UTC)
WORKERS = 8  # dispatch workers run side by side here (deployed: one Lambda per message)
CALL_MS = 5  # a deployed DynamoDB or SQS call, as the issue counts it


class Clock:
    def __init__(self, now: datetime | None = None) -> None:
        self.fixed = now

    def __call__(self) -> datetime:
        return self.fixed or datetime.now(UTC)


def populate(total: int, times: list[tuple[str, datetime | None]]) -> None:
    """``total`` schedules written straight to the table: expression i of ``times`` cycled."""
    from chalicelib import deps
    from chalicelib.domain.schedule import Schedule

    service, store = deps.schedules(), deps.schedule_stores()[0]
    target = {"type": "event", "event_type": "custom.bench", "data": {}}
    with store._model.batch_write() as batch:
        for i in range(total):
            expression, start = times[i % len(times)]
            body = {
                "name": f"b{i}",
                "expression": expression,
                "timezone": "UTC",
                "target": target,
                "retry_policy": {"max_attempts": 1},
            }
            if start is not None:
                body["start_at"] = start.isoformat().replace("+00:00", "Z")
            now = deps.clock()
            schedule = Schedule(
                id=f"sch_{i:026d}",
                version=1,
                anchor=now.isoformat(),
                created_at="2026-11-30T08:00:00.000Z",
                updated_at="x",
                **service._settings(body),
            )
            batch.save(store._record(schedule.placed(now)))


def drain(queue: str, handle: Any, threads: int) -> int:
    """Every visible message of ``queue`` through ``handle``, ``threads`` at once; messages."""
    from chalicelib import aws

    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    done = 0
    for _ in range(10_000):  # bounded: pages of 10 until the queue is empty
        batches = []
        for _ in range(threads):
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if got:
                batches.append(got)
        if not batches:
            return done

        def run(messages: list[dict[str, Any]]) -> None:
            for m in messages:
                handle(m["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, batches))
        done += sum(len(b) for b in batches)
    return done


def herd(due: int) -> dict[str, Any]:
    """``due`` daily schedules at 00:00, a tick at 23:59:50, a second tick racing it."""
    from chalicelib import aws, deps
    from chalicelib.services.scheduler import CHUNK
    from chalicelib.store.schedules import SHARDS
    from devserver.provision import provision

    serialize_dynamodb()
    with moto.mock_aws():
        deps.reset()
        deps.clock = Clock(T0)
        provision(aws.client("dynamodb"), aws.client("sqs"), "bench")
        populate(due, [("cron(0 0 * * *)", None)])
        deps.clock.fixed = T0 + timedelta(seconds=20)  # 23:59:50: the look-ahead takes 00:00
        scheduler = deps.scheduler()
        sent: Counter[str] = Counter()  # runs sent to the executions queue, by run
        send = scheduler.queue.send_entries

        def recording(entries: list[dict[str, Any]]) -> None:
            send(entries)
            sent.update(json.loads(e["MessageBody"])["sort_key"] for e in entries)

        scheduler.queue.send_entries = recording  # type: ignore[method-assign]
        stale = {
            s: scheduler.store.due_page(str(s), "2026-12-01T00:01:05.000Z", None, 500) for s in range(SHARDS)
        }
        with count_calls() as tick_calls:
            started = time.perf_counter()
            result = scheduler.tick()
            tick_s = time.perf_counter() - started
        assert result["due"] <= due
        with count_calls() as dispatch_calls:
            started = time.perf_counter()
            handled = drain("conductor-bench-dispatch", scheduler.dispatch, WORKERS)
            dispatch_s = time.perf_counter() - started
        # a second tick that read the index before the first one's workers moved it on
        original = scheduler.store.due_page
        scheduler.store.due_page = lambda shard, until, after, limit: (
            stale[int(shard)] if after is None else original(shard, until, after, limit)
        )
        scheduler.tick()
        drain("conductor-bench-dispatch", scheduler.dispatch, WORKERS)
        scheduler.store.due_page = original
    per_shard = math.ceil(due / SHARDS)
    own = {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "GetQueueUrl"}
    return {
        "due": due,
        "tick_calls": sum(tick_calls.values()) - tick_calls["GetQueueUrl"],
        "dispatch_calls": sum(v for k, v in dispatch_calls.items() if k not in own),
        "dispatch_detail": {k: v for k, v in dispatch_calls.items() if k not in own},
        "messages": handled,
        "tick_s": tick_s,
        "dispatch_s": dispatch_s,
        "sent": len(sent),
        "twice": sum(1 for n in sent.values() if n > 1),
        "lost": due - len(sent),
        "chain": SHARDS
        + math.ceil(result["messages"] / 10)  # the tick
        + max(0, math.ceil(per_shard / 500) - 1) * 2  # a shard's further pages, one after another
        + 1
        + CHUNK
        + math.ceil(CHUNK / 10),  # one worker: read, a write a run, its sends
    }


def plan(per_kind: int, spread: bool, now: datetime) -> list[tuple[str, datetime | None]]:
    """Each schedule's expression (cron, rate, at in turn). ``spread``: rate and at() starts one
    every few seconds over two minutes, cron over the next three minutes (the planned start is
    what is measured, not moto's throughput); else every run at one second (a small herd)."""
    minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (minute - now).total_seconds() < 20:
        minute += timedelta(minutes=1)  # a cron run that the first tick takes ahead
    first = (now + timedelta(seconds=25)).replace(microsecond=0)
    step = 120 / per_kind if spread else 0
    times: list[tuple[str, datetime | None]] = []
    for i in range(per_kind):
        at_min = minute + timedelta(minutes=i % 3 if spread else 0)
        at = first + timedelta(seconds=i * step)
        times += [
            (f"cron({at_min.minute} {at_min.hour} * * *)", None),
            ("rate(1 hour)", at + timedelta(seconds=step / 2 if spread else 5)),
            (f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})", None),
        ]
    return times


def precision(per_kind: int, spread: bool) -> dict[str, list[float]]:
    """On the real clock, as the runtime runs it: a tick every minute, dispatch workers and 4
    executors polling their queues; each run's start_delay_ms by kind."""
    from chalicelib import aws, deps
    from devserver.provision import provision

    serialize_dynamodb()
    with moto.mock_aws():
        deps.reset()
        deps.clock = Clock()
        provision(aws.client("dynamodb"), aws.client("sqs"), "bench")
        times = plan(per_kind, spread, datetime.now(UTC))
        populate(len(times), times)
        scheduler, runs, sqs = deps.scheduler(), deps.runs(), aws.client("sqs")
        stop = threading.Event()

        def poll(queue: str, handle: Any) -> None:
            # short polls (moto's long poll notices a delayed message only once a second; SQS
            # delivers it when due): what is measured is the scheduler, not moto's wait
            url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            while not stop.is_set():
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not got:
                    stop.wait(0.05)
                for m in got:
                    handle(m["Body"])
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

        def ticker() -> None:  # EventBridge's rate(1 minute)
            while not stop.is_set():
                scheduler.tick()
                stop.wait(60)

        threads = [
            threading.Thread(target=ticker, daemon=True),
            threading.Thread(target=poll, daemon=True, args=("conductor-bench-dispatch", scheduler.dispatch)),
        ]
        threads += [
            threading.Thread(
                target=poll, daemon=True, args=("conductor-bench-executions", runs.run_execution)
            )
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        last = max(at for expression, start in times for at in [start or _planned(expression)]) + timedelta(
            seconds=5
        )
        stop.wait(max(0.0, (last - datetime.now(UTC)).total_seconds()))
        for _ in range(60):  # bounded: until every run started (or a minute passed)
            delays = _delays(len(times))
            if sum(len(v) for v in delays.values()) >= len(times):
                break
            time.sleep(1)
        stop.set()
        for t in threads:
            t.join(5)
    return delays


def _planned(expression: str) -> datetime:
    """The run time of a bench cron(M H * * *) or at() expression."""
    inner = expression[expression.index("(") + 1 : -1]
    if expression.startswith("at("):
        return datetime.fromisoformat(inner).replace(tzinfo=UTC)
    minute, hour = (int(x) for x in inner.split()[:2])
    today = datetime.now(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return today if today > datetime.now(UTC) - timedelta(hours=1) else today + timedelta(days=1)


def _delays(count: int) -> dict[str, list[float]]:
    from chalicelib import deps

    executions = deps.schedule_stores()[1]
    kinds = ("cron", "rate", "at")
    found: dict[str, list[float]] = {k: [] for k in kinds}
    for i in range(count):
        page, _ = executions.history(f"sch_{i:026d}", 5, None, 0)
        found[kinds[i % 3]] += [d for e in page if (d := e.start_delay_ms()) is not None]
    return found


def estimate(due: int) -> tuple[float, float, str]:
    """Deployed: the tick's time, the time until the last run is claimed and sent, and the limit
    that sets it. Calls on the critical path x 5 ms, with the parallelism the design gives."""
    from chalicelib.services.scheduler import CHUNK, PAGE
    from chalicelib.store.due import shard_count
    from chalicelib.store.schedules import SHARDS

    call = CALL_MS / 1000
    first = min(due, SHARDS * PAGE)  # the tick takes one page per shard
    tick_s = (SHARDS + math.ceil(math.ceil(first / CHUNK) / 10)) * call
    # a shard's further pages, one after another: a Query, a SendMessageBatch and an SQS hop
    pages = math.ceil(math.ceil(due / SHARDS) / PAGE)
    paging_s = (pages - 1) * (2 * call + 0.05)
    # workers: 1 + 50 + 5 calls a message; the SQS trigger adds up to 300 concurrent a minute
    # (reserved_concurrency of dispatch_due_schedules must allow it)
    worker_s = (1 + CHUNK + math.ceil(CHUNK / 10)) * call
    work_s = math.ceil(due / CHUNK) * worker_s / min(300, math.ceil(due / CHUNK))
    # partition keys: each claim writes the schedules' due index once (32 keys) and the runs'
    # by-due index three times in the minute (claim, start, end; 32 keys), ~1,000 writes/s a key
    index_s = max(due / (SHARDS * 1000), 3 * due / (shard_count("run") * 1000))
    total = tick_s + max(paging_s, work_s, index_s)
    limit = max(
        (paging_s, "a shard's pages, one after another"),
        (work_s, "300 concurrent dispatch workers"),
        (index_s, "index partition writes (32 keys)"),
    )[1]
    return tick_s, total, limit


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--precision", type=int, default=30, help="schedules of each kind")
    args = parser.parse_args()
    import app  # noqa: F401 - the handlers' modules, as the Lambdas load them

    print(
        f"bench/herd.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        "| due at 00:00 | tick calls / run | dispatch calls / run | longest chain | "
        "sent twice | never sent | local: tick, dispatch |"
    )
    print("|---|---|---|---|---|---|---|")
    ok = True
    for due in (int(s) for s in args.sizes.split(",") if s):
        r = herd(due)
        ok &= r["twice"] == 0 and r["lost"] == 0
        print(
            f"| {due:,} | {r['tick_calls'] / due:.3f} | {r['dispatch_calls'] / due:.3f} "
            f"({', '.join(f'{k} {v}' for k, v in sorted(r['dispatch_detail'].items()))}) | "
            f"{r['chain']} calls | {r['twice']} | {r['lost']} | "
            f"{r['tick_s']:.2f} s, {r['dispatch_s']:.1f} s ({WORKERS} workers) |"
        )
    print()
    for spread, label in ((True, "spread over three minutes"), (False, "all at one second")):
        print(
            f"start_delay_ms on the real clock, {args.precision} schedules of each kind "
            f"{label} (a tick a minute, a dispatch worker, 4 executors):"
        )
        print("| kind | runs | p50 | p99 | max |")
        print("|---|---|---|---|---|")
        for kind, delays in precision(args.precision, spread).items():
            if len(delays) < args.precision:
                ok = False
            if not delays:
                print(f"| {kind} | 0 | - | - | - |")
                continue
            delays.sort()
            p99 = delays[min(len(delays) - 1, math.ceil(len(delays) * 0.99) - 1)]
            print(
                f"| {kind} | {len(delays)} | {statistics.median(delays):.0f} ms | "
                f"{p99:.0f} ms | {delays[-1]:.0f} ms |"
            )
        print()
    print(
        f"deployed estimate ({CALL_MS} ms a call; 50 due a message; dispatch workers: 300 "
        "concurrent, what the SQS trigger adds in a minute):"
    )
    print("| due in one minute | tick | last run sent after | what limits it |")
    print("|---|---|---|---|")
    for due in (10_000, 100_000, 1_000_000):
        tick_s, total, limit = estimate(due)
        print(f"| {due:,} | {tick_s:.2f} s | {total:.1f} s | {limit} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
