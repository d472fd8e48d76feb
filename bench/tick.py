"""One scheduler tick with 10 due schedules among 100, and among 10,000: AWS calls and time.

The tick reads the sparse, sharded `due` index and hands what is due to the dispatch
workers (bench/herd.py measures those): its calls must follow the due schedules, not the total.
Both sizes are measured in one run against moto in-process (moto's per-call cost is not
DynamoDB's: compare the counts and the ratio, not the milliseconds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
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

T0 = datetime(2026, 11, 30, 8, 59, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def populate(service: Any, store: Any, total: int, due: int) -> None:
    """``due`` schedules at 09:00, the rest at 18:00, written straight to the table (fast)."""
    from chalicelib.domain.schedule import Schedule

    target = {"type": "event", "event_type": "custom.bench", "data": {}}
    body = {
        "name": "b",
        "expression": "cron(0 9 * * *)",
        "timezone": "UTC",
        "target": target,
        "retry_policy": {"max_attempts": 1},
    }
    with store._model.batch_write() as batch:
        for i in range(total):
            schedule = Schedule(
                id=f"sch_{i:026d}".replace("0", "A", 1)[:30],
                version=1,
                anchor=T0.isoformat(),
                created_at="2026-11-30T08:00:00.000Z",
                updated_at="x",
                **service._settings(
                    {**body, "expression": "cron(0 9 * * *)" if i < due else "cron(0 18 * * *)"}
                ),
            )
            batch.save(store._record(schedule.placed(T0)))


def measure(total: int, due: int) -> tuple[Counter[str], float]:
    from chalicelib import aws, deps
    from devserver.provision import provision

    clock = Clock()
    serialize_dynamodb()  # moto's transactions are not thread-safe
    with moto.mock_aws():
        deps.reset()
        deps.clock = clock
        provision(aws.client("dynamodb"), aws.client("sqs"), "bench")
        scheduler = deps.scheduler()
        populate(deps.schedules(), scheduler.store, total, due)
        clock.now = T0 + timedelta(seconds=40)
        with count_calls() as calls:
            started = time.perf_counter()
            result = scheduler.tick()
            elapsed = time.perf_counter() - started
        assert result["due"] == due, result
    return calls, elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--large", type=int, default=10_000)
    args = parser.parse_args()
    import app  # noqa: F401 - the handlers' modules, as the tick Lambda loads them

    results: dict[int, list[tuple[Counter[str], float]]] = {100: [], args.large: []}
    for _ in range(args.rounds):
        for total, runs in results.items():
            runs.append(measure(total, 10))
    print(
        f"bench/tick.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"one tick (finding, handing on), 10 due schedules, {args.rounds} alternating rounds "
        "(moto in-process)"
    )
    medians = {}
    for total, runs in results.items():
        calls = runs[-1][0]
        medians[total] = statistics.median(t for _, t in runs)
        print(
            f"  among {total:>6}: {sum(calls.values()):3d} AWS calls {dict(calls)}, "
            f"{medians[total] * 1000:.0f} ms"
        )
    same = sum(results[100][-1][0].values()) == sum(results[args.large][-1][0].values())
    print(f"calls equal: {same}; time ratio ({args.large} / 100): {medians[args.large] / medians[100]:.2f}x")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
