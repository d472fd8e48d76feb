"""Which DynamoDB items requests write, and how often: no item may be written by every request.

10,000 ``GET /v2/events/types`` from 20 API keys in turn, through Conductor's app on moto
(in-process), with every write recorded by table and key. One item takes about 1,000 writes a
second: an item written by every request would cap the whole API there. Printed: the items
written, and the most-written ones with their share of the requests.

    python bench/hot_items.py [--requests 10000] [--keys 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
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
        "CONDUCTOR_RATE_LIMITS": json.dumps({"read": {"quota": 10**9, "window_seconds": 1}}),
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import moto

from devserver import routing
from devserver.motofix import serialize_dynamodb

routing.install()
WRITES = ("PutItem", "UpdateItem", "DeleteItem")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--keys", type=int, default=20)
    args = parser.parse_args()
    import botocore.client
    from chalice.test import Client

    import app as conductor
    from chalicelib import aws, deps
    from devserver.provision import provision

    for handler in conductor.app.log.handlers:  # the JSON log lines, to nowhere
        handler.stream = open(os.devnull, "w")  # noqa: SIM115
    serialize_dynamodb()
    written: Counter[str] = Counter()
    real = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation: str, params: Any) -> Any:
        if operation in WRITES:
            key = json.dumps(
                params.get("Key") or {k: params["Item"][k] for k in list(params["Item"])[:2]}, sort_keys=True
            )
            written[f"{params['TableName'].removeprefix('conductor-bench-')} {key}"] += 1
        elif operation in ("BatchWriteItem", "TransactWriteItems"):
            written[f"({operation})"] += 1
        return real(self, operation, params)

    with moto.mock_aws():
        deps.reset()
        provision(aws.client("dynamodb"), aws.client("sqs"), "bench")
        keys = [deps.api_keys().create(f"bench {i}", "viewer")[1] for i in range(args.keys)]
        botocore.client.BaseClient._make_api_call = recording  # type: ignore[method-assign]
        try:
            with Client(conductor.app) as client:
                for i in range(args.requests):  # bounded
                    response = client.http.get(
                        "/v2/events/types", headers={"Authorization": f"Bearer {keys[i % len(keys)]}"}
                    )
                    if response.status_code != 200:
                        raise SystemExit(f"{response.status_code} {response.body!r}")
            deps.metrics().flush()
        finally:
            botocore.client.BaseClient._make_api_call = real  # type: ignore[method-assign]
    total = sum(written.values())
    print(f"{args.requests:,} requests from {args.keys} keys: {total:,} writes to {len(written):,} items")
    print("| item (table and key) | writes | share of requests |")
    print("|---|---:|---:|")
    for item, count in written.most_common(8):
        print(f"| {item[:90]} | {count:,} | {count / args.requests:.1%} |")
    worst = written.most_common(1)[0][1] if written else 0
    print(
        f"most-written item: {worst / args.requests:.1%} of requests (an item written by every "
        "request would be 100%)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
