"""Webhook deliveries: one SQS batch of 10 to a receiver that takes 200 ms each, against one
delivery alone (parallel deliveries keep the ratio near 1), and the AWS calls of fanning one event
out to the 1 matching endpoint among 1,000 registered. moto in-process; a real receiver on
127.0.0.1."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
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
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import moto

from chalicelib.domain.webhooks import Endpoint
from devserver.motofix import serialize_dynamodb
from tests.functional.aws_calls import count_calls

ARN = "arn:aws:sqs:us-east-1:123456789012:conductor-bench-webhook-deliveries"


class Slow(BaseHTTPRequestHandler):
    delay = 0.2

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(Slow.delay)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def batch(service: Any, sqs: Any, url: str, count: int) -> float:
    """Time the delivery handler on ``count`` queued deliveries (one SQS batch)."""
    import app
    from devserver.lambdas import sqs_event

    messages = []
    for _ in range(10):  # bounded receive
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        messages += got
        if len(messages) >= count or not got:
            break
    assert len(messages) == count, len(messages)
    started = time.perf_counter()
    app.deliver_webhooks(sqs_event(messages, ARN, "us-east-1"), None)
    elapsed = time.perf_counter() - started
    sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
    )
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--endpoints", type=int, default=1000)
    args = parser.parse_args()
    print(
        f"bench/webhooks.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    import app
    from chalicelib import aws, deps
    from devserver.provision import provision

    for handler in app.app.log.handlers:
        handler.stream = open(os.devnull, "w")  # noqa: SIM115
    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    Thread(target=server.serve_forever, daemon=True).start()
    receiver = f"http://127.0.0.1:{server.server_address[1]}/hook"
    serialize_dynamodb()  # moto's transactions are not thread-safe
    with moto.mock_aws():
        deps.reset()
        provision(aws.client("dynamodb"), aws.client("sqs"), "bench")
        sqs = aws.client("sqs")
        url = sqs.get_queue_url(QueueName="conductor-bench-webhook-deliveries")["QueueUrl"]
        service = deps.deliveries()
        hook = deps.webhooks().create({"url": receiver, "event_types": ["custom.bench"]})
        singles, tens, instant_tens = [], [], []
        for _ in range(args.rounds):
            for delay, sizes in ((0.2, (1, 10)), (0.0, (10,))):
                Slow.delay = delay
                for size in sizes:
                    for _ in range(size):
                        deps.fan_out().publish(deps.event_bus().publish("custom.bench", {}))
                    taken = batch(service, sqs, url, size)
                    (singles if size == 1 else tens if delay else instant_tens).append(taken)
        for i in range(args.endpoints - 1):
            deps.webhook_store().save(
                Endpoint(
                    id=f"whk_{i:026d}",
                    url=receiver,
                    event_types=(f"custom.other{i % 50}",),
                    enabled=True,
                    max_attempts=3,
                    secret="whsec_AAAA",
                    version=1,
                    created_at="x",
                    updated_at="x",
                ),
                None,
                [],
            )
        event = deps.event_bus().publish("custom.bench", {})
        with count_calls() as calls:
            matched = deps.fan_out().publish(event)[0]
    server.shutdown()
    single, ten = statistics.median(singles), statistics.median(tens)
    overhead = statistics.median(instant_tens)
    print(f"receiver takes 200 ms; {args.rounds} rounds; moto in-process; endpoint {hook.id}")
    print(
        f"  one delivery: {single * 1000:.0f} ms; a batch of 10: {ten * 1000:.0f} ms; "
        f"ratio {ten / single:.2f}x (10x if they ran one after another)"
    )
    print(
        f"  the same batch of 10 to an instant receiver: {overhead * 1000:.0f} ms (moto's calls, "
        f"serialized by the GIL); waiting on the receivers added {(ten - overhead) * 1000:.0f} ms "
        "for 10 x 200 ms"
    )
    print(
        f"  fan-out to {matched} matching endpoint among {args.endpoints}: "
        f"{sum(calls.values())} AWS calls {json.dumps(dict(calls))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
