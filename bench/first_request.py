"""A cold container's first request against the floor any Python Lambda on DynamoDB pays.

Both run in a fresh interpreter, alternately (machine noise hits both alike), against one moto
server on 127.0.0.1 holding the same tables:

- floor: ``import boto3``, one DynamoDB client, one GetItem;
- first request: ``import app`` and ``GET /v2/schedules/{id}`` through the Lambda handler, as API
  Gateway hands it over (an unknown key read, the rate-limit write, the schedule's GetItem: three
  calls, where the floor makes one).

    python bench/first_request.py [--rounds 9]
    python bench/first_request.py --modules   # the packages a cold first request loads, as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FLOOR = """
import boto3
client = boto3.client("dynamodb")
client.get_item(TableName={table!r}, Key={{"id": {{"S": {schedule_id!r}}}}})
"""

FIRST_REQUEST = """
import json
import os
if os.environ.get("BENCH_CLIENTS"):  # which clients the request makes, to stdout
    import botocore.session
    made = botocore.session.Session.create_client
    botocore.session.Session.create_client = lambda self, name, **kw: print(
        "client", name) or made(self, name, **kw)
import app
event = {event!r}
response = app.app(json.loads(event), type("Context", (), {{"aws_request_id": "r",
    "function_name": "api_handler", "memory_limit_in_mb": 512,
    "invoked_function_arn": "arn", "get_remaining_time_in_millis": lambda self: 29000}})())
assert response["statusCode"] == 200, response
if os.environ.get("BENCH_MODULES"):  # which packages the cold request loaded, to stdout
    import sys
    print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
"""


def api_event(schedule_id: str, key: str) -> str:
    """An API Gateway (REST, proxy) event for ``GET /v2/schedules/{id}``."""
    headers = {"Authorization": f"Bearer {key}", "Host": "bench.local"}
    return json.dumps(
        {
            "resource": "/v2/schedules/{schedule_id}",
            "path": f"/v2/schedules/{schedule_id}",
            "httpMethod": "GET",
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": {"schedule_id": schedule_id},
            "stageVariables": None,
            "requestContext": {
                "resourcePath": "/v2/schedules/{schedule_id}",
                "httpMethod": "GET",
                "stage": "api",
                "requestId": "bench",
                "path": "/api/v2/schedules",
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": None,
            "isBase64Encoded": False,
        }
    )


def once(code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    flags = ["-X", "importtime"] if env.get("BENCH_IMPORTTIME") else []  # to stderr, per module
    if env.get("BENCH_PROFILE"):  # where the time goes, by cumulative time, to stdout
        code = (
            "import cProfile, pstats\nprofile = cProfile.Profile()\nprofile.enable()\n"
            + code
            + "\nprofile.disable()\n"
            "pstats.Stats(profile).sort_stats('cumulative').print_stats(45)\n"
        )
    subprocess.run(
        [sys.executable, *flags, "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=None
        if env.get("BENCH_PROFILE") or env.get("BENCH_CLIENTS") or env.get("BENCH_MODULES")
        else subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument(
        "--modules", action="store_true", help="run the first request once and print the packages it loaded"
    )
    args = parser.parse_args()
    print(
        f"bench/first_request.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    from moto.server import ThreadedMotoServer

    from devserver.motofix import serialize_dynamodb

    serialize_dynamodb()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "CONDUCTOR_STAGE": "bench",
            "CONDUCTOR_XRAY": "false",
            "PYTHONDONTWRITEBYTECODE": "0",
            "CONDUCTOR_OUTBOUND_ALLOW_NETWORKS": "127.0.0.0/8",
        }
        os.environ.update(env)
        from chalicelib import aws, deps
        from chalicelib.config import get_settings
        from devserver.provision import provision

        provision(aws.client("dynamodb"), aws.client("sqs"), "bench")
        deps.reset()
        _, key = deps.api_keys().create("bench", "admin")
        schedule = deps.schedules().create(
            {
                "name": "bench",
                "expression": "cron(0/5 * * * ? *)",
                "target": {"type": "http", "url": "http://127.0.0.1:9/"},
                "retry_policy": {"max_attempts": 1},
            }
        )
        cases = {
            "floor: import boto3 + a client + GetItem": FLOOR.format(
                table=get_settings().tables["schedules"], schedule_id=schedule.id
            ),
            "first request: import app + GET /v2/schedules/{id}": FIRST_REQUEST.format(
                event=api_event(schedule.id, key)
            ),
        }
        if args.modules:
            once(cases["first request: import app + GET /v2/schedules/{id}"], {**env, "BENCH_MODULES": "1"})
            return 0
        for code in cases.values():  # warm the bytecode caches, as a deployed package has them
            once(code, env)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, code in cases.items():
                samples[name].append(once(code, env))
    finally:
        server.stop()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    floor, first = medians.values()
    print(f"python {sys.version.split()[0]}, {args.rounds} alternating rounds, median wall time")
    for name, value in medians.items():
        print(f"  {name:52s} {value * 1000:8.1f} ms")
    print(f"first request / floor: {first / floor:.2f}x (issue 17's goal: <= 1.3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
