"""End to end: `python -m devserver` in a subprocess, driven only through its public ports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from typing import Any

import boto3
import pytest
import requests
import websockets

from tests.e2e.conftest import ADMIN_KEY, AUTH, ROOT, Runtime, wait_until
from tests.functional.receivers import receiver

pytestmark = pytest.mark.e2e


def test_banner_prints_urls_and_the_bootstrap_key(runtime: Runtime) -> None:
    text = "\n".join(runtime.banner)
    assert f"API:        {runtime.api}/v2" in text
    assert f"WebSocket:  {runtime.ws}" in text
    assert f"Dashboard:  {runtime.api}/dashboard" in text
    assert f"Admin key:  {ADMIN_KEY}" in text
    assert "in memory" in text


def test_health_and_error_shapes_over_http(runtime: Runtime) -> None:
    health = requests.get(f"{runtime.api}/v2/dashboard/health", headers=AUTH, timeout=10)
    assert requests.get(f"{runtime.api}/v2/dashboard/health", timeout=10).status_code == 401
    assert health.status_code == 200 and health.json()["status"] == "ok"
    missing = requests.get(f"{runtime.api}/v2/no/such/route", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    malformed = requests.post(
        f"{runtime.api}/v2/events",
        data="{oops",
        headers={"Content-Type": "application/json", **AUTH},
        timeout=10,
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "validation_error"
    assert "Traceback" not in malformed.text


def test_event_travels_http_to_sqs_handler_to_websocket(runtime: Runtime) -> None:
    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with websockets.connect(f"{runtime.ws}/?token={ADMIN_KEY}", open_timeout=10) as socket:
            await socket.send(json.dumps({"action": "subscribe", "events": ["custom.*"]}))
            ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
            await socket.send(json.dumps({"action": "ping"}))
            pong = json.loads(await asyncio.wait_for(socket.recv(), 10))
            # publish over HTTP (a thread: requests is blocking)
            response = await asyncio.to_thread(
                requests.post,
                f"{runtime.api}/v2/events",
                json={"type": "custom.e2e", "data": {"hello": "world"}},
                headers=AUTH,
                timeout=10,
            )
            assert response.status_code == 201, response.text
            pushed = json.loads(await asyncio.wait_for(socket.recv(), 20))
            return [ack, pong, pushed], response.json()

    (ack, pong, pushed), published = asyncio.run(scenario())
    assert ack == {"action": "ack", "of": "subscribe", "events": ["custom.*"]}
    assert pong == {"action": "pong"}
    assert pushed == {"action": "event", "event": published}
    timeline = requests.get(f"{runtime.api}/v2/events?type=custom.e2e", headers=AUTH, timeout=10).json()
    assert timeline["items"] == [published]
    # the SQS handler consumed (and deleted) the message: the poller deletes it once the handler
    # has returned, which can be a moment after the handler pushed the event to the socket
    moto = next(line.split()[-1] for line in runtime.banner if "Moto (AWS):" in line)
    sqs = boto3.client(
        "sqs",
        endpoint_url=moto,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    url = sqs.get_queue_url(QueueName="conductor-dev-events")["QueueUrl"]
    deadline = time.monotonic() + 10
    while True:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        left = (
            attributes["ApproximateNumberOfMessages"],
            attributes["ApproximateNumberOfMessagesNotVisible"],
        )
        if left == ("0", "0") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert left == ("0", "0")


def test_one_event_reaches_fifty_subscribers_exactly_once(runtime: Runtime) -> None:
    async def client(ready: asyncio.Event, go: asyncio.Event) -> list[dict[str, Any]]:
        async with websockets.connect(f"{runtime.ws}/?token={ADMIN_KEY}", open_timeout=20) as socket:
            await socket.send(json.dumps({"action": "subscribe", "events": ["custom.fifty"]}))
            assert json.loads(await asyncio.wait_for(socket.recv(), 20))["action"] == "ack"
            ready.set()
            await go.wait()
            got = [json.loads(await asyncio.wait_for(socket.recv(), 30))]
            with contextlib.suppress(TimeoutError):  # more within a second: a duplicate
                got.append(json.loads(await asyncio.wait_for(socket.recv(), 1)))
            return got

    async def scenario() -> tuple[list[list[dict[str, Any]]], dict[str, Any]]:
        go = asyncio.Event()
        readies = [asyncio.Event() for _ in range(50)]
        tasks = [asyncio.create_task(client(r, go)) for r in readies]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
        response = await asyncio.to_thread(
            requests.post,
            f"{runtime.api}/v2/events",
            headers=AUTH,
            timeout=10,
            json={"type": "custom.fifty", "data": {"to": 50}},
        )
        go.set()
        return await asyncio.wait_for(asyncio.gather(*tasks), 90), response.json()

    received, published = asyncio.run(scenario())
    assert len(received) == 50
    assert all(got == [{"action": "event", "event": published}] for got in received)


def test_a_retry_job_runs_through_the_local_sqs_poller(runtime: Runtime) -> None:
    # Given a receiver that fails once, then recovers
    with receiver([(503, {}), (200, {})]) as target:
        created = requests.post(
            f"{runtime.api}/v2/errors/retry",
            headers=AUTH,
            timeout=10,
            json={
                "service": "e2e",
                "target": {"type": "http", "url": target.url},
                "error": {"type": "HTTP503", "message": "down"},
                "retry_policy": {"strategy": "fixed", "initial_delay_seconds": 0, "jitter": "none"},
            },
        )
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
        # When the runtime's poller feeds the attempts to the handler (bounded wait)
        deadline = time.monotonic() + 30
        job: dict[str, Any] = {}
        while time.monotonic() < deadline:
            job = requests.get(f"{runtime.api}/v2/errors/retry/{job_id}", headers=AUTH, timeout=10).json()
            if job["status"] == "succeeded":
                break
            time.sleep(0.2)
    # Then it succeeded on the second attempt
    assert job["status"] == "succeeded", job
    assert [a["status_code"] for a in job["attempts"]] == [503, 200]
    assert len(target.requests) == 2


def test_a_schedule_run_now_goes_through_the_executions_poller(runtime: Runtime) -> None:
    with receiver([(200, {})]) as target:
        created = requests.post(
            f"{runtime.api}/v2/schedules",
            headers=AUTH,
            timeout=10,
            json={"name": "e2e", "expression": "rate(1 day)", "target": {"type": "http", "url": target.url}},
        )
        assert created.status_code == 201, created.text
        schedule_id = created.json()["id"]
        run = requests.post(f"{runtime.api}/v2/schedules/{schedule_id}/execute", headers=AUTH, timeout=10)
        assert run.status_code == 202
        deadline = time.monotonic() + 30
        history: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            history = requests.get(
                f"{runtime.api}/v2/schedules/{schedule_id}/history", headers=AUTH, timeout=10
            ).json()["items"]
            if history and history[0]["status"] == "succeeded":
                break
            time.sleep(0.2)
    assert [h["status"] for h in history] == ["succeeded"]
    assert history[0]["id"] == run.json()["id"] and len(target.requests) == 1


def test_websocket_without_a_key_is_refused(runtime: Runtime) -> None:
    async def attempt() -> None:
        async with websockets.connect(runtime.ws, open_timeout=10):
            pass

    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        asyncio.run(attempt())
    assert info.value.response.status_code == 403  # API Gateway answers a refused $connect so


def test_fifty_concurrent_writes_are_all_answered(runtime: Runtime) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def publish(n: int) -> int:
        return requests.post(
            f"{runtime.api}/v2/events",
            headers=AUTH,
            timeout=30,
            json={"type": "custom.load", "data": {"n": n}},
        ).status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(publish, range(50)))
    assert statuses == [201] * 50  # no reset connection, as API Gateway resets none
    trace = requests.request("TRACE", f"{runtime.api}/v2/events", timeout=10)
    assert trace.status_code == 405
    assert trace.json()["error"]["code"] == "method_not_allowed"


def test_a_slow_receiver_does_not_hold_up_another_endpoint(runtime: Runtime) -> None:
    with receiver([(200, {})]) as slow, receiver([(200, {})]) as fast:
        slow.delay_seconds = 12  # one after the other, the fast one would wait this long
        hooks = [
            requests.post(
                f"{runtime.api}/v2/webhooks",
                headers=AUTH,
                timeout=10,
                json={"url": r.url, "event_types": [f"custom.{name}"]},
            ).json()
            for r, name in ((slow, "slow"), (fast, "fast"))
        ]
        requests.post(f"{runtime.api}/v2/events", headers=AUTH, timeout=10, json={"type": "custom.slow"})
        assert wait_until(lambda: slow.requests, 10)  # the slow delivery is under way
        sent = time.monotonic()
        requests.post(f"{runtime.api}/v2/events", headers=AUTH, timeout=10, json={"type": "custom.fast"})
        assert wait_until(lambda: fast.requests, 11)
        assert time.monotonic() - sent < 10  # it did not wait for the slow one's 12 s
        for hook in hooks:
            requests.delete(f"{runtime.api}/v2/webhooks/{hook['id']}", headers=AUTH, timeout=10)


def test_a_ticket_opens_the_websocket_once(runtime: Runtime) -> None:
    issued = requests.post(f"{runtime.api}/v2/realtime/tickets", headers=AUTH, timeout=10)
    assert issued.status_code == 201, issued.text
    ticket = issued.json()
    assert ticket["url"] == f"{runtime.ws}?ticket={ticket['ticket']}"

    async def scenario() -> dict[str, Any]:
        async with websockets.connect(ticket["url"], open_timeout=10) as socket:
            await socket.send(json.dumps({"action": "ping"}))
            return json.loads(await asyncio.wait_for(socket.recv(), 10))

    assert asyncio.run(scenario()) == {"action": "pong"}
    with pytest.raises(websockets.exceptions.InvalidStatus) as reused:
        asyncio.run(scenario())
    assert reused.value.response.status_code == 403  # a ticket opens one socket


def test_revoking_a_key_closes_the_sockets_it_opened(runtime: Runtime) -> None:
    key = requests.post(
        f"{runtime.api}/v2/api-keys", headers=AUTH, timeout=10, json={"name": "e2e laptop", "role": "viewer"}
    ).json()
    ticket = requests.post(
        f"{runtime.api}/v2/realtime/tickets", timeout=10, headers={"Authorization": f"Bearer {key['key']}"}
    ).json()

    async def scenario() -> str:
        async with websockets.connect(ticket["url"], open_timeout=10) as socket:
            await socket.send(json.dumps({"action": "subscribe", "events": ["custom.*"]}))
            assert json.loads(await asyncio.wait_for(socket.recv(), 10))["action"] == "ack"
            revoked = await asyncio.to_thread(
                requests.delete, f"{runtime.api}/v2/api-keys/{key['id']}", headers=AUTH, timeout=10
            )
            assert revoked.status_code == 204
            await asyncio.to_thread(
                requests.post,
                f"{runtime.api}/v2/events",
                headers=AUTH,
                timeout=10,
                json={"type": "custom.after_revoke"},
            )
            try:
                while True:  # bounded: the server closes it, or recv times out
                    message = json.loads(await asyncio.wait_for(socket.recv(), 10))
                    assert message.get("action") != "event", message
            except websockets.exceptions.ConnectionClosed:
                return "closed"
            except TimeoutError:
                return "still open"

    assert asyncio.run(scenario()) == "closed"


def test_conductors_own_endpoints_are_not_targets(runtime: Runtime) -> None:
    moto = next(line.split()[-1] for line in runtime.output if "Moto (AWS):" in line)
    for url in (
        f"{moto}/",
        f"http://127.0.0.1:{runtime.ws_port}/@connections/abc",
        f"http://localhost:{runtime.ws_port}/@connections/abc",
    ):
        response = requests.post(
            f"{runtime.api}/v2/errors/retry",
            headers=AUTH,
            timeout=10,
            json={
                "service": "e2e",
                "target": {"type": "http", "url": url},
                "error": {"type": "HTTP503", "message": "down"},
            },
        )
        assert response.status_code == 400, (url, response.text)
        assert response.json()["error"]["details"][0]["field"] == "target.url"
        assert "Conductor's own" in response.json()["error"]["details"][0]["problem"]


def test_no_secret_key_or_stack_trace_in_any_log_line(runtime: Runtime) -> None:
    header_secret = "Bearer e2e-header-secret-4f9c2d"
    secrets_seen: list[str] = [header_secret]
    with receiver([(500, {})]) as failing:
        hook = requests.post(
            f"{runtime.api}/v2/webhooks",
            headers=AUTH,
            timeout=10,
            json={
                "url": failing.url,
                "event_types": ["custom.*"],
                "max_attempts": 1,
                "headers": {"Authorization": header_secret},
            },
        ).json()
        secrets_seen.append(hook["secret"])
        rotated = requests.post(
            f"{runtime.api}/v2/webhooks/{hook['id']}/rotate-secret", headers=AUTH, timeout=10
        ).json()
        secrets_seen.append(rotated["secret"])
        requests.post(f"{runtime.api}/v2/webhooks/{hook['id']}/test", headers=AUTH, timeout=10)
        job = requests.post(
            f"{runtime.api}/v2/errors/retry",
            headers=AUTH,
            timeout=10,
            json={
                "service": "e2e-logs",
                "error": {"type": "HTTP503", "message": "down"},
                "target": {"type": "http", "url": failing.url, "headers": {"Authorization": header_secret}},
                "retry_policy": {"max_attempts": 1},
            },
        ).json()
        key = requests.post(
            f"{runtime.api}/v2/api-keys",
            headers=AUTH,
            timeout=10,
            json={"name": "e2e logs", "role": "viewer"},
        ).json()
        secrets_seen.append(key["key"])

        async def open_with_token() -> None:  # the less safe way: the key in the URL
            async with websockets.connect(f"{runtime.ws}/?token={key['key']}", open_timeout=10):
                pass

        asyncio.run(open_with_token())
        done = wait_until(
            lambda: requests.get(
                f"{runtime.api}/v2/errors/retry/{job['id']}", headers=AUTH, timeout=10
            ).json()["status"]
            == "dead_lettered"
            and len(failing.requests) >= 2
        )
        assert done, failing.requests
    # a request that crashes inside the app is answered, and logged, without a trace
    crash = requests.get(f"{runtime.api}/v2/events?cursor=" + "A" * 50 + ".B", headers=AUTH, timeout=10)
    assert crash.status_code == 400 and "Traceback" not in crash.text
    logged_up_to(runtime)  # every line of the requests above has reached the pipe
    text = "\n".join(runtime.output)
    assert f'"path": "/v2/webhooks/{hook["id"]}/rotate-secret"' in text  # the request log is here
    for secret in secrets_seen:
        assert secret not in text, f"{secret[:12]}… was logged"
    assert text.count(ADMIN_KEY) == 1  # the banner's, shown once to the person who started it
    assert "Traceback" not in text


def logged_up_to(runtime: Runtime) -> None:
    """Waits for the log line of one more request (a marker id): the server logs a request when
    it answers it, so every line of the requests answered before is in the output by then (an
    event to wait for, not a fixed sleep that a loaded machine outlasts)."""
    marker = f"marker-{os.getpid()}-{time.monotonic_ns()}"
    requests.get(f"{runtime.api}/v2/events/types", timeout=10, headers={**AUTH, "X-Request-Id": marker})
    assert wait_until(lambda: any(marker in line for line in list(runtime.output)), 30)


def test_one_log_line_per_request_joinable_by_request_id(runtime: Runtime) -> None:
    request_id = f"join-{os.getpid()}-{time.monotonic_ns()}"
    response = requests.get(
        f"{runtime.api}/v2/events/types", timeout=10, headers={**AUTH, "X-Request-Id": request_id}
    )
    assert response.headers["X-Request-Id"] == request_id

    def lines() -> list[str]:
        return [
            line
            for line in list(runtime.output)
            if "/v2/events/types" in line and (request_id in line or "GET /v2/events/types HTTP" in line)
        ]

    assert wait_until(lines, 10)
    logged_up_to(runtime)  # a second line of that request, if any, is written before this one's
    found = lines()
    assert len(found) == 1, found  # no access-log line beside the JSON one
    entry = json.loads(found[0])
    assert entry["request_id"] == request_id and entry["status"] == 200
    assert entry["message"] == "request" and entry["level"] == "INFO"
    assert entry["function_request_id"] and isinstance(entry["cold_start"], bool)
    assert entry["function_name"] and entry["timestamp"].endswith("Z")


def test_sigterm_stops_everything_and_frees_the_ports(runtime: Runtime) -> None:
    runtime.process.send_signal(signal.SIGTERM)
    assert runtime.process.wait(timeout=30) == 0
    runtime.wait_for("Stopped.", timeout=5)
    for port in (runtime.port, runtime.ws_port):
        with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
            sock.connect(("127.0.0.1", port))  # nothing listens any more


def _make_run_in_a_terminal() -> tuple[subprocess.Popen[bytes], int, int]:
    """`make run` as a person starts it: in its own session, on a pseudo-terminal."""
    import fcntl
    import pty
    import termios

    from devserver.runtime import free_port

    master, slave = pty.openpty()
    port = free_port()

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        ["make", "run", f"ARGS=--port {port} --ws-port {free_port()}"],
        cwd=ROOT,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=controlling_terminal,  # noqa: PLW1509 - its own session and terminal
        env={k: v for k, v in os.environ.items() if not k.startswith("CONDUCTOR_ADMIN")},
    )
    os.close(slave)
    threading.Thread(target=_drain, args=(master,), daemon=True).start()  # a full pty blocks
    return process, master, port


def _wait_until_answering(port: int, process: subprocess.Popen[bytes]) -> None:
    assert wait_until(lambda: process.poll() is not None or _answers(port), 90), "no answer"
    assert process.poll() is None


def _answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/v2/openapi.json", timeout=2).ok
    except requests.RequestException:
        return False


def _drain(master: int) -> None:
    """Read what the terminal shows until it closes (bounded by the process's life)."""
    while True:
        try:
            if not os.read(master, 65536):
                return
        except OSError:
            return


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm to make"])
def test_make_run_stops_within_ten_seconds(how: str) -> None:
    process, master, port = _make_run_in_a_terminal()
    try:
        _wait_until_answering(port, process)
        started = time.monotonic()
        if how == "ctrl-c":
            os.write(master, b"\x03")  # the terminal turns it into SIGINT for the foreground group
        else:
            process.send_signal(signal.SIGTERM)  # to make alone: make passes it on
        process.wait(timeout=30)
        assert wait_until(lambda: not _answers(port), 10)
        assert time.monotonic() - started < 10
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        os.close(master)
