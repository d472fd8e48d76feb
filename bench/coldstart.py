"""Cold start: median wall time of `import app` in a fresh interpreter against `import boto3`.

A Lambda pays the import of its handler module before its first request. The two are measured
alternately in one run (so machine noise hits both alike) and the ratio is printed.
Target: import app <= 1.5x import boto3.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "import boto3": "import boto3",
    "import app": "import app",
    # what the first request then adds (not part of the target, shown for context)
    "import app + first API request's modules": (
        "import app, chalicelib.api.schemas, chalicelib.store.api_keys, "
        "chalicelib.store.rate_limits, chalicelib.services.ratelimits, "
        "chalicelib.services.events, chalicelib.store.events"
    ),
    "import app + first SQS fan-out's modules": (
        "import app, chalicelib.services.realtime, chalicelib.store.connections"
    ),
}


def once(code: str) -> float:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    for code in CASES.values():  # warm the bytecode caches once, as a deployed package has them
        once(code)
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.rounds):
        for name, code in CASES.items():
            samples[name].append(once(code))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    baseline = medians["import boto3"]
    print(f"python {sys.version.split()[0]}, {args.rounds} alternating rounds, median wall time")
    for name, value in medians.items():
        print(f"  {name:42s} {value * 1000:8.1f} ms  ({value / baseline:.2f}x import boto3)")
    ratio = medians["import app"] / baseline
    print(f"cold start ratio (import app / import boto3): {ratio:.2f}x (target <= 1.5x)")
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
