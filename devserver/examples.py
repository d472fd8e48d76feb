"""``python -m devserver.examples``: record the OpenAPI document's examples from the real API.

Starts the local runtime in this process, walks every operation once in an order that makes sense
(create, read, change, delete) with request bodies written here, and writes what was sent and
what came back to ``chalicelib/api/examples.json``, which ``/v2/openapi.json`` publishes. So every
example is a request the API accepted and the answer it gave; a test checks each against its
schema and that every operation has one. Run it again when an operation or a model changes.

Secrets in answers (API keys, webhook secrets, tickets) are replaced by obviously fake values;
lists are cut to two items and long strings shortened.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import requests

from devserver.runtime import ROOT, LocalRuntime, RuntimeOptions, free_port

OUT = ROOT / "chalicelib" / "api" / "examples.json"
FAKE = {
    "key": "cnd_EXAMPLE-this-is-not-a-real-key-0123456789",
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "ticket": "wst_EXAMPLE-single-use-ticket-0123456789",
}
PUBLIC_WS = "wss://abc123defg.execute-api.us-east-1.amazonaws.com/api"


def trim(value: Any, depth: int = 0) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in FAKE and isinstance(v, str):
                out[k] = FAKE[k]
            elif k == "previous_secret" and isinstance(v, str):
                out[k] = FAKE["secret"]
            elif k == "url" and isinstance(v, str) and "ticket=" in v:
                out[k] = v.split("ticket=")[0] + "ticket=" + FAKE["ticket"]
            else:
                out[k] = trim(v, depth + 1)
        return out
    if isinstance(value, list):
        return [trim(v, depth + 1) for v in value[:2]]
    if isinstance(value, str) and len(value) > 300:
        return value[:297] + "..."
    return value


class Walk:
    def __init__(self, api: str, key: str) -> None:
        self.api = api
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        self.examples: dict[str, dict[str, Any]] = {}

    def call(
        self,
        operation: str,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        expect: int | None = None,
    ) -> Any:
        response = self.session.request(method, f"{self.api}/v2{path}", json=body, params=query, timeout=30)
        if response.status_code >= 400 or (expect and response.status_code != expect):
            raise SystemExit(
                f"{operation}: {method} {path} answered {response.status_code}: {response.text[:500]}"
            )
        answer = response.json() if response.content else None
        example: dict[str, Any] = {"status": response.status_code}
        if body is not None:
            example["request"] = body
        if query:
            example["query"] = query
        if answer is not None:
            example["response"] = trim(answer)
        self.examples[operation] = example
        return answer


def wait(what: str, check: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise SystemExit(f"timed out waiting for {what}")


def walk(w: Walk, receivers: str) -> None:  # noqa: PLR0915 - one script, top to bottom
    ok, down = f"{receivers}/ok", f"{receivers}/down"
    key = w.call("create_api_key", "POST", "/api-keys", {"name": "reporting dashboard", "role": "viewer"})
    w.call("list_api_keys", "GET", "/api-keys", query={"limit": 2})
    w.call("get_api_key", "GET", f"/api-keys/{key['id']}")
    w.call("create_ticket", "POST", "/realtime/tickets")
    w.call("session", "GET", "/dashboard/session")
    w.call("health", "GET", "/dashboard/health")

    hook = w.call(
        "create_webhook",
        "POST",
        "/webhooks",
        {
            "url": f"{ok}/hooks/conductor",
            "event_types": ["schedule.*", "error.dead_lettered"],
            "description": "Ops alerts",
            "headers": {"X-Env": "prod"},
            "max_attempts": 5,
        },
    )
    w.call(
        "update_webhook",
        "PUT",
        f"/webhooks/{hook['id']}",
        {
            "url": f"{ok}/hooks/conductor",
            "event_types": ["schedule.*", "error.*"],
            "description": "Ops alerts (all errors)",
            "headers": {"X-Env": "********"},
            "retry_schedule": [10, 60, 600, 3600],
            "rate_limit": 20,
        },
    )
    w.call("list_webhooks", "GET", "/webhooks", query={"limit": 2})
    w.call("get_webhook", "GET", f"/webhooks/{hook['id']}")
    w.call("rotate_secret", "POST", f"/webhooks/{hook['id']}/rotate-secret")

    event = w.call(
        "publish_event",
        "POST",
        "/events",
        {"type": "custom.order.shipped", "data": {"order_id": "ord_1042", "carrier": "DHL"}},
    )
    w.call("get_event", "GET", f"/events/{event['id']}")
    w.call("list_event_types", "GET", "/events/types")

    target = {
        "type": "http",
        "method": "POST",
        "url": f"{ok}/reports/nightly",
        "headers": {"Authorization": "Bearer report-token"},
        "body": {"report": "sales"},
        "timeout_seconds": 10,
    }
    policy = {
        "strategy": "exponential",
        "max_attempts": 3,
        "initial_delay_seconds": 1,
        "max_delay_seconds": 60,
        "multiplier": 2.0,
        "jitter": "full",
    }
    w.call(
        "preview_schedule",
        "POST",
        "/schedules/preview",
        {"expression": "cron(0 9 * * 1-5)", "timezone": "Europe/Berlin", "count": 3},
    )
    body = {
        "name": "Nightly sales report",
        "description": "Builds yesterday's report",
        "expression": "cron(0 2 * * *)",
        "timezone": "Europe/Berlin",
        "target": target,
        "retry_policy": policy,
        "tags": ["reports"],
        "catchup": "latest",
        "pause_after_failures": 5,
    }
    schedule = w.call("create_schedule", "POST", "/schedules", body)
    schedule = w.call(
        "update_schedule",
        "PUT",
        f"/schedules/{schedule['id']}",
        {
            **body,
            "expression": "cron(30 2 * * *)",
            "version": schedule["version"],
            "target": {**target, "headers": {"Authorization": "********"}},
        },
    )
    w.call("list_schedules", "GET", "/schedules", query={"limit": 2, "tag": "reports"})
    w.call("get_schedule", "GET", f"/schedules/{schedule['id']}")
    w.call(
        "pause_schedule",
        "POST",
        f"/schedules/{schedule['id']}/pause",
        {"note": "Paused during the data warehouse migration"},
    )
    w.call("resume_schedule", "POST", f"/schedules/{schedule['id']}/resume")
    run = w.call("execute_schedule", "POST", f"/schedules/{schedule['id']}/execute")
    w.call(
        "backfill_schedule",
        "POST",
        f"/schedules/{schedule['id']}/backfill",
        {"from": "2026-11-27T00:00:00Z", "to": "2026-11-29T00:00:00Z"},
    )
    w.call(
        "batch_execute_schedules",
        "POST",
        "/batch/schedules/execute",
        {"items": [{"id": schedule["id"]}, {"id": "sch_01M8NOTAREALSCHEDULE0000000"}]},
    )
    w.call(
        "batch_pause_schedules",
        "POST",
        "/batch/schedules/pause",
        {"items": [{"id": schedule["id"], "note": "Warehouse migration"}]},
    )
    w.call("batch_resume_schedules", "POST", "/batch/schedules/resume", {"items": [{"id": schedule["id"]}]})
    wait(
        "the schedule's run",
        lambda: any(
            e["id"] == run["id"] and e["status"] == "succeeded"
            for e in w.session.get(f"{w.api}/v2/schedules/{schedule['id']}/history", timeout=10).json()[
                "items"
            ]
        ),
    )
    w.call("schedule_history", "GET", f"/schedules/{schedule['id']}/history", query={"limit": 2})

    failed = {
        "type": "http",
        "method": "POST",
        "url": f"{down}/payments/capture",
        "body": {"payment_id": "pay_881"},
        "timeout_seconds": 10,
    }
    job = w.call(
        "create_retry_job",
        "POST",
        "/errors/retry",
        {
            "service": "payments",
            "target": failed,
            "error": {"type": "Timeout", "message": "gateway timed out after 10 s"},
            "retry_policy": {**policy, "max_attempts": 2, "initial_delay_seconds": 0},
            "idempotency_key": "capture-pay_881",
            "workflow_id": "order-1042",
        },
    )
    wait(
        "the retry job to dead-letter",
        lambda: w.session.get(f"{w.api}/v2/errors/retry/{job['id']}", timeout=10).json()["status"]
        == "dead_lettered",
    )
    w.call("get_retry_job", "GET", f"/errors/retry/{job['id']}")
    w.call("list_retry_attempts", "GET", f"/errors/retry/{job['id']}/attempts", query={"limit": 2})
    w.call(
        "list_retry_jobs",
        "GET",
        "/errors/retry",
        query={"status": "dead_lettered", "service": "payments", "limit": 2},
    )
    w.call("retry_stats", "GET", "/errors/stats")
    letters = w.call("list_dead_letters", "GET", "/dlq", query={"status": "open", "limit": 2})
    letter = letters["items"][0]
    w.call("get_dead_letter", "GET", f"/dlq/{letter['id']}")
    w.call("replay_dead_letter", "POST", f"/dlq/{letter['id']}/replay")
    jobs = [
        w.session.post(
            f"{w.api}/v2/errors/retry",
            timeout=10,
            json={
                "service": "ledger",
                "target": failed,
                "error": {"type": "HTTP500", "message": "down"},
                "retry_policy": {"max_attempts": 1},
            },
        ).json()
        for _ in range(3)
    ]
    wait(
        "three dead letters",
        lambda: all(
            w.session.get(f"{w.api}/v2/errors/retry/{j['id']}", timeout=10).json()["status"]
            == "dead_lettered"
            for j in jobs
        ),
    )
    w.call(
        "resolve_dead_letter",
        "POST",
        f"/dlq/dlq_{jobs[0]['id'][4:]}/resolve",
        {"note": "Refunded by hand, ticket OPS-311"},
    )
    w.call(
        "batch_replay_dead_letters",
        "POST",
        "/batch/dlq/replay",
        {"items": [{"id": f"dlq_{jobs[1]['id'][4:]}"}]},
    )
    w.call(
        "batch_resolve_dead_letters",
        "POST",
        "/batch/dlq/resolve",
        {"items": [{"id": f"dlq_{jobs[2]['id'][4:]}", "note": "Duplicate of OPS-311"}]},
    )
    batch = w.call(
        "batch_create_retry_jobs",
        "POST",
        "/batch/errors/retry",
        {
            "items": [
                {
                    "service": "email",
                    "target": {"type": "http", "url": f"{ok}/send"},
                    "error": {"type": "SMTPError", "message": "relay busy"},
                },
                {
                    "service": "email",
                    "target": {"type": "http", "url": "ftp://not-http"},
                    "error": {"type": "SMTPError"},
                },
            ]
        },
    )
    second = w.session.post(
        f"{w.api}/v2/errors/retry",
        timeout=10,
        json={
            "service": "email",
            "target": {"type": "http", "url": f"{down}/send"},
            "error": {"type": "SMTPError", "message": "relay busy"},
            "retry_policy": {"max_attempts": 5, "initial_delay_seconds": 600},
        },
    ).json()
    w.call(
        "resolve_retry_job",
        "POST",
        "/errors/resolve",
        {"id": second["id"], "note": "Sent through the backup relay"},
    )
    w.call(
        "batch_resolve_retry_jobs",
        "POST",
        "/batch/errors/resolve",
        {"items": [{"id": batch["results"][0]["id"], "note": "Not needed any more"}]},
    )
    w.call("command_breaker", "POST", "/errors/circuit-breaker/ledger", {"action": "force_open"})
    w.call("get_breaker", "GET", "/errors/circuit-breaker/ledger")
    w.call("list_breakers", "GET", "/errors/circuit-breakers", query={"limit": 2})

    test = w.call("test_webhook", "POST", f"/webhooks/{hook['id']}/test")
    wait(
        "the test delivery",
        lambda: w.session.get(f"{w.api}/v2/webhooks/deliveries/{test['id']}", timeout=10).json()["status"]
        == "delivered",
    )
    w.call("get_delivery", "GET", f"/webhooks/deliveries/{test['id']}")
    w.call(
        "list_deliveries",
        "GET",
        f"/webhooks/{hook['id']}/deliveries",
        query={"status": "delivered", "limit": 2},
    )
    w.call("redeliver", "POST", f"/webhooks/deliveries/{test['id']}/redeliver")
    w.call("recover", "POST", f"/webhooks/{hook['id']}/recover", {"since": "2026-11-29T00:00:00Z"})

    w.call("list_events", "GET", "/events", query={"type": "schedule.executed", "limit": 2})
    w.call("metrics_summary", "GET", "/metrics/summary")
    w.call("metrics_history", "GET", "/metrics/history", query={"metric": "retries", "window": "hour"})
    w.call("metrics_errors", "GET", "/metrics/errors")
    w.call("metrics_schedules", "GET", "/metrics/schedules")
    w.call("metrics_webhooks", "GET", "/metrics/webhooks")
    w.call("dashboard_overview", "GET", "/dashboard/overview")
    w.call("dashboard_errors", "GET", "/dashboard/errors")
    w.call("dashboard_schedules", "GET", "/dashboard/schedules")
    w.call("dashboard_webhooks", "GET", "/dashboard/webhooks")
    w.call("dashboard_timeline", "GET", "/dashboard/timeline", query={"limit": 2})
    w.examples["openapi_document"] = {
        "status": 200,
        "response": {
            "openapi": "3.1.0",
            "info": {"title": "Conductor API", "version": "2"},
            "paths": {"/v2/schedules": {"get": {"operationId": "list_schedules"}}},
        },
    }

    w.call("delete_schedule", "DELETE", f"/schedules/{schedule['id']}")
    w.call("delete_webhook", "DELETE", f"/webhooks/{hook['id']}")
    w.call("revoke_api_key", "DELETE", f"/api-keys/{key['id']}")


def main() -> int:
    import logging  # noqa: PLC0415

    from devserver.demo import DemoReceivers  # noqa: PLC0415

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    runtime = LocalRuntime(RuntimeOptions(port=free_port(), ws_port=free_port()))
    runtime.start()
    logging.getLogger("conductor").setLevel(logging.WARNING)  # one line per request: too many
    receivers = DemoReceivers()
    try:
        w = Walk(runtime.api_url, runtime.admin_key)
        walk(w, receivers.url)
    finally:
        receivers.stop()
        runtime.stop()
    text = json.dumps(dict(sorted(w.examples.items())), indent=1, sort_keys=True)
    # the local receivers and gateway stand for the systems a deployment would call
    for local, public in (
        (f"{receivers.url}/ok", "https://hooks.example.com"),
        (f"{receivers.url}/down", "https://payments.example.com"),
        (runtime.ws_url, PUBLIC_WS),
    ):
        text = text.replace(local, public)
    OUT.write_text(text + "\n")
    print(f"{len(w.examples)} operations recorded in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
