"""``make run ARGS=--demo``: a realistic set of data, made through the Python client, so every
dashboard view has something to show within a minute.

Local receivers on 127.0.0.1 stand in for the systems Conductor calls: ``/ok`` answers 200,
``/flaky`` fails every other call with a 503, ``/down`` always answers 500 (and every path
below each, e.g. ``/down/payments``). What is made:

- schedules in four zones: two every minute (one of them failing), two daily, one paused;
- webhook endpoints: one healthy (every event), one flaky (schedule and error events), one disabled;
- retry jobs that succeed at once, succeed after a retry, and dead-letter;
- a ``ledger`` service whose calls fail until its circuit breaker opens;
- a few custom events.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("conductor.demo")


class DemoReceivers:
    """The systems the demo's targets and webhooks call, on a free loopback port."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        flaky = itertools.count()
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(min(length, 1 << 20))
                path = self.path.split("?")[0]
                if path.startswith("/down"):
                    status = 500
                elif path.startswith("/flaky"):
                    with lock:
                        status = 503 if next(flaky) % 2 == 0 else 200
                else:
                    status = 200
                body = b'{"ok": true}' if status == 200 else b'{"error": "unavailable"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="demo-receivers", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class DemoSummary:
    schedules: list[str] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)
    retry_jobs: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"Demo data: {len(self.schedules)} schedules, {len(self.webhooks)} webhook "
            f"endpoints, {len(self.retry_jobs)} retry jobs (the dashboard fills within a "
            "minute)."
        )


QUICK = {
    "strategy": "exponential",
    "max_attempts": 3,
    "initial_delay_seconds": 1,
    "max_delay_seconds": 5,
    "jitter": "none",
}


def seed(api_url: str, key: str, receivers: DemoReceivers) -> DemoSummary:
    from conductor_client import Conductor  # noqa: PLC0415 - installed by make run (client/)

    c = Conductor(api_url, key)
    base = receivers.url
    made = DemoSummary()

    def http(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "type": "http",
            "method": "POST",
            "url": f"{base}{path}",
            "body": body or {},
            "timeout_seconds": 5,
        }

    # webhooks first, so they receive what the rest publishes
    made.webhooks.append(c.webhooks.create(f"{base}/ok", ["*"], description="Ops alerts (healthy)")["id"])
    made.webhooks.append(
        c.webhooks.create(
            f"{base}/flaky", ["schedule.*", "error.*"], description="Partner sync (flaky)", max_attempts=4
        )["id"]
    )
    made.webhooks.append(
        c.webhooks.create(f"{base}/ok", ["custom.*"], description="Retired integration", enabled=False)["id"]
    )

    for name, expression, zone, path, tags in [
        ("Sync inventory", "rate(1 minute)", "UTC", "/ok", ["inventory"]),
        ("Export billing", "rate(1 minute)", "America/New_York", "/down", ["billing"]),
        ("Morning digest", "cron(0 9 * * 1-5)", "Europe/Berlin", "/ok", ["email"]),
        ("Tokyo settlement", "cron(30 17 * * *)", "Asia/Tokyo", "/ok", ["payments"]),
    ]:
        schedule = c.schedules.create(
            name,
            expression,
            http(path, {"job": name}),
            timezone=zone,
            retry_policy={**QUICK, "max_attempts": 2},
            tags=tags,
        )
        made.schedules.append(schedule["id"])
    paused = c.schedules.create("Legacy cleanup", "cron(0 3 * * 0)", http("/ok"), timezone="Australia/Sydney")
    c.schedules.pause(paused["id"], "Replaced by the new cleanup job")
    made.schedules.append(paused["id"])
    for schedule_id in made.schedules[:4]:
        c.schedules.run(schedule_id)  # history from the first minute on

    for service, path, error in [
        ("payments", "/ok", {"type": "Timeout", "message": "gateway timed out after 10 s"}),
        ("email", "/flaky", {"type": "ServiceUnavailable", "message": "SMTP relay busy"}),
        ("email", "/ok", {"type": "ConnectionReset", "message": "connection reset by peer"}),
        ("inventory", "/down", {"type": "HTTPError", "message": "500 from warehouse API"}),
    ]:
        made.retry_jobs.append(c.retries.create(service, http(path), error, retry_policy=QUICK)["id"])
    for number in range(4):  # 12 failed calls: the ledger breaker opens (10 calls, 50 %)
        made.retry_jobs.append(
            c.retries.create(
                "ledger",
                http("/down", {"entry": number}),
                {"type": "HTTPError", "message": "ledger answered 500"},
                retry_policy=QUICK,
                idempotency_key=f"demo-ledger-{number}",
            )["id"]
        )

    c.events.publish("custom.deploy.finished", {"service": "checkout", "version": "2026.11.3"})
    c.events.publish("custom.order.flagged", {"order": "ord_1042", "reason": "manual review"})
    return made


def start(api_url: str, key: str, host: str) -> DemoReceivers:
    """Seed in the background (the API is up; the banner is printed) and log the outcome."""
    receivers = DemoReceivers(host)

    def run() -> None:
        try:
            log.info(seed(api_url, key, receivers).line())
        except Exception:
            log.exception("demo data could not be made")

    threading.Thread(target=run, name="demo", daemon=True).start()
    return receivers
