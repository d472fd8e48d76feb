"""Retry attempts through the SQS handler: AWS calls per attempt and attempts per second.

Jobs target a local always-OK HTTP receiver; their attempts are fed to `run_retry_attempts`
in SQS batches of 10, as Lambda would, against moto in-process. AWS calls are counted by
wrapping botocore's `BaseClient._make_api_call` (every client: boto3's and pynamodb's).
moto is much slower than DynamoDB/SQS per call, so attempts/s here is a floor, not a forecast;
calls per attempt is the number that carries over to AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
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
    }
)  # the receiver's
os.environ.pop("AWS_ENDPOINT_URL", None)

import moto

from devserver.motofix import serialize_dynamodb
from tests.functional.aws_calls import count_calls


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import app as conductor
    from chalicelib import aws, deps
    from devserver.lambdas import context_for, sqs_event
    from devserver.provision import provision
    from tests.functional.receivers import receiver

    for handler in conductor.app.log.handlers:
        handler.stream = open(os.devnull, "w")  # noqa: SIM115

    rates, per_attempt = [], []
    serialize_dynamodb()  # moto's transactions are not thread-safe
    with receiver([(200, {})]) as target, moto.mock_aws():
        deps.reset()
        provision(aws.client("dynamodb"), aws.client("sqs"), "bench")
        sqs = aws.client("sqs")
        url = sqs.get_queue_url(QueueName="conductor-bench-retries")["QueueUrl"]
        arn = "arn:aws:sqs:us-east-1:123456789012:conductor-bench-retries"
        policy = {"strategy": "fixed", "initial_delay_seconds": 0, "jitter": "none"}
        for _ in range(args.rounds):
            for _ in range(args.jobs):
                deps.retries().create(
                    {
                        "service": "bench",
                        "target": {"type": "http", "url": target.url},
                        "error": {"type": "E", "message": ""},
                        "retry_policy": {**_defaults(), **policy},
                    }
                )
            batches = []
            for _ in range(args.jobs):  # bounded: at most one receive per job
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not got:
                    break
                batches.append(got)
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
                )
            attempts = sum(len(b) for b in batches)
            with count_calls() as calls:
                started = time.perf_counter()
                for batch in batches:
                    conductor.run_retry_attempts(
                        sqs_event(batch, arn, "us-east-1"), context_for("run_retry_attempts")
                    )
                elapsed = time.perf_counter() - started
            rates.append(attempts / elapsed)
            per_attempt.append(sum(calls.values()) / attempts)
            breakdown = {op: round(n / attempts, 2) for op, n in calls.most_common()}
    print(
        f"{args.rounds} rounds x {args.jobs} attempts, batches of 10, moto in-process, "
        "always-OK receiver on 127.0.0.1"
    )
    print(f"  AWS calls per attempt: {statistics.median(per_attempt):.2f}  {json.dumps(breakdown)}")
    print(f"  attempts per second (one handler, median): {statistics.median(rates):.1f}")
    return 0


def _defaults() -> dict[str, Any]:
    from chalicelib.domain.retry import RetryPolicy

    return RetryPolicy().to_dict()


if __name__ == "__main__":
    sys.exit(main())
