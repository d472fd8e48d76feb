"""The local runtime keeps its promises: it stops on SIGTERM at any moment, keeps secrets out of
third-party log lines, and runs behind the fault proxy (``make run ARGS="--faults 0.05"``)."""

from __future__ import annotations

import os
import random
import signal
import socket
import time
from typing import Any

import pytest
import requests

from tests.e2e.conftest import ADMIN_KEY, local_runtime, wait_until
from tests.functional.receivers import receiver

pytestmark = pytest.mark.e2e
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
#: SIGTERM moments per run of `make test`; `make chaos` asks for 20
MOMENTS = int(os.environ.get("CONDUCTOR_SIGTERM_MOMENTS", "4"))


@pytest.mark.timeout(60 + 25 * MOMENTS)
def test_sigterm_at_random_moments_stops_within_ten_seconds() -> None:
    chance = random.Random(26)
    stopped = []
    for _ in range(MOMENTS):
        # Given the runtime starting (or started), When SIGTERM comes at a random moment of its
        # first seconds (while moto, the tables, the workers or the API are coming up)
        with local_runtime(wait=False) as runtime:
            time.sleep(chance.uniform(0.0, 4.0))  # the moment is the point: a random one
            sent = time.monotonic()
            runtime.process.send_signal(signal.SIGTERM)
            # Then it is gone within 10 s
            runtime.process.wait(timeout=30)
            stopped.append(time.monotonic() - sent)
    assert all(seconds < 10 for seconds in stopped), stopped


def test_a_malformed_websocket_upgrade_does_not_log_its_token() -> None:
    with local_runtime() as runtime:
        secret = "cnd_" + "s3cr3t" * 6
        # When a client sends a broken upgrade with the key in the URL (aiohttp logs the
        # request line of a request it cannot parse)
        for request_line in (
            f"GET /?token={secret}\x01 HTTP/1.1",  # a bad char in the query
            f"GET /?token={secret} HTTP/1.1 x",
        ):  # a bad request line
            with socket.create_connection(("127.0.0.1", runtime.ws_port), timeout=10) as sock:
                sock.sendall(
                    f"{request_line}\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".encode()
                )
                assert sock.recv(4096).startswith(b"HTTP/1.")  # answered 400
        assert wait_until(lambda: sum("token=" in line for line in runtime.output) >= 2, 10)
        # Then no line carries it, whoever wrote it
        assert not [line for line in runtime.output if secret in line]
        assert any("token=[redacted]" in line for line in runtime.output)


@pytest.mark.timeout(400)
def test_make_run_behind_the_fault_proxy_still_finishes_its_work() -> None:
    # a short grace: the local pollers hand a failed batch back in 2 s, not minutes
    with (
        local_runtime("--faults", "rate=0.1,seed=4", env={"CONDUCTOR_RECOVER_GRACE_SECONDS": "5"}) as runtime,
        receiver([(200, {})]) as hook,
    ):
        assert "the fault proxy" in "\n".join(runtime.banner)
        jobs = []
        for n in range(5):
            for _ in range(5):  # a client retries a 503 with the same key
                answer = requests.post(
                    f"{runtime.api}/v2/errors/retry",
                    headers=AUTH,
                    timeout=30,
                    json={
                        "service": "faults",
                        "error": {"type": "HTTP503"},
                        "target": {"type": "http", "method": "POST", "url": f"{hook.url}/{n}"},
                        "retry_policy": {"initial_delay_seconds": 0, "jitter": "none"},
                        "idempotency_key": f"faults-{n}",
                    },
                )
                if answer.status_code != 503:
                    break
            assert answer.status_code in (200, 201), answer.text
            jobs.append(answer.json()["id"])

        def finished() -> bool:
            states = [
                requests.get(f"{runtime.api}/v2/errors/retry/{j}", headers=AUTH, timeout=30) for j in jobs
            ]
            return all(s.ok and s.json()["status"] == "succeeded" for s in states)

        assert wait_until(finished, 200)  # a lost message waits for a minute's tick
        assert sorted({r["path"] for r in hook.requests}) == [f"/hook/{n}" for n in range(5)]


def test_kill_9_loses_no_acknowledged_write(tmp_path: Any) -> None:
    data = tmp_path / "data"
    made: dict[str, list[str]] = {"jobs": [], "schedules": [], "webhooks": [], "events": []}
    # Given `--data DIR`, work accepted seconds after the start (long before the minute's
    # snapshot), then the process killed at once: no stop, no snapshot
    with local_runtime("--data", str(data)) as first, receiver([(503, {})]) as down:
        for n in range(10):
            job = requests.post(
                f"{first.api}/v2/errors/retry",
                headers=AUTH,
                timeout=30,
                json={
                    "service": "kept",
                    "error": {"type": "HTTP503"},
                    "target": {"type": "http", "method": "POST", "url": f"{down.url}/{n}"},
                    "retry_policy": {"initial_delay_seconds": 3600, "jitter": "none"},
                },
            )
            assert job.status_code == 201, job.text
            made["jobs"].append(job.json()["id"])
            event = requests.post(
                f"{first.api}/v2/events",
                headers=AUTH,
                timeout=30,
                json={"type": "custom.kept", "data": {"n": n}},
            )
            assert event.status_code == 201, event.text
            made["events"].append(event.json()["id"])
        schedule = requests.post(
            f"{first.api}/v2/schedules",
            headers=AUTH,
            timeout=30,
            json={
                "name": "kept",
                "expression": "cron(0 9 * * ? *)",
                "target": {"type": "http", "method": "POST", "url": down.url},
            },
        )
        assert schedule.status_code == 201, schedule.text
        made["schedules"].append(schedule.json()["id"])
        for _ in range(2):
            hook = requests.post(
                f"{first.api}/v2/webhooks",
                headers=AUTH,
                timeout=30,
                json={"url": down.url, "event_types": ["custom.*"]},
            )
            assert hook.status_code == 201, hook.text
            made["webhooks"].append(hook.json()["id"])
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
    # When it starts again from the same directory
    with local_runtime("--data", str(data)) as second:
        assert "writes from the journal" in "\n".join(second.banner)
        # Then every acknowledged write is there
        for kind, path in (
            ("jobs", "errors/retry"),
            ("schedules", "schedules"),
            ("webhooks", "webhooks"),
            ("events", "events"),
        ):
            for item in made[kind]:
                answer = requests.get(f"{second.api}/v2/{path}/{item}", headers=AUTH, timeout=30)
                assert answer.status_code == 200, (kind, item, answer.status_code)
