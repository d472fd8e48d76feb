"""Conductor's Lambda entry points: wiring only. Each handler parses, calls a service, answers."""

from __future__ import annotations

import json
from typing import Any

from chalice import Chalice, Response
from chalice.app import CloudWatchEvent, SQSEvent, WebsocketEvent

from chalicelib import batches, deps, logs
from chalicelib.api import (
    api_keys,
    dashboard,
    events,
    metrics,
    openapi,
    realtime,
    recovery,
    schedules,
    web,
    webhooks,
)
from chalicelib.api.errors import error_response
from chalicelib.api.middleware import envelope, request_path
from chalicelib.config import get_settings, queue_name
from chalicelib.domain.events import Event

app = Chalice(app_name="conductor")
app.debug = False  # never a stack trace in a response
logs.configure(app.log)
app.experimental_feature_flags.update(["WEBSOCKETS"])
app.register_middleware(logs.with_lambda_context, "all")  # before envelope: its line has them
app.register_middleware(deps.after_invocation, "all")  # pending metrics, every few seconds
app.register_middleware(deps.with_outbox, "sqs")  # a batch's events, written together
app.register_middleware(deps.with_outbox, "scheduled")
app.register_middleware(envelope, "http")
for module in (events, dashboard, realtime, api_keys, recovery, schedules, webhooks, metrics, openapi):
    app.register_blueprint(module.bp, url_prefix="/v2")
    app.register_blueprint(module.bp.v1, url_prefix="/v1", name_prefix="v1_")  # deprecated aliases
app.register_blueprint(web.bp)

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@app.route("/", methods=["GET"])
def index() -> dict[str, Any]:
    return {
        "name": "conductor",
        "versions": {"current": "v2", "deprecated": "v1"},
        "links": {
            "events": "/v2/events",
            "health": "/v2/dashboard/health",
            "openapi": "/v2/openapi.json",
            "dashboard": "/dashboard",
        },
    }


@app.route("/{proxy+}", methods=ALL_METHODS)
def not_found(**_: str) -> Response:
    """API Gateway sends every path no other route matches here, so it gets a JSON 404."""
    request = app.current_request
    return error_response("not_found", f"No route for {request.method} {request_path(request)}.")


# --- WebSocket API -------------------------------------------------------------------------


def _ws_endpoint(event: WebsocketEvent) -> str:
    """The management endpoint of the API this connection came through (or the local gateway)."""
    override = get_settings().websocket_endpoint
    return override or f"https://{event.domain_name}/{event.stage}"


@app.on_ws_connect()
def ws_connect(event: WebsocketEvent) -> dict[str, int]:
    """Connect with ``?ticket=<ticket>`` (POST /v2/realtime/tickets: single use, 60 s) or, the
    less safe way, ``?token=<api key>``; without a valid one API Gateway refuses the socket."""
    params = event.to_dict().get("queryStringParameters") or {}
    if params.get("ticket"):
        principal = deps.authenticator().redeem_ticket(params["ticket"])
    else:
        principal = deps.authenticator().identify(params.get("token"))
    if principal is None:
        return {"statusCode": 401}
    deps.realtime().connect(event.connection_id, _ws_endpoint(event), key_id=principal.key_id)
    return {"statusCode": 200}


@app.on_ws_message()
def ws_message(event: WebsocketEvent) -> None:
    deps.realtime().handle_message(event.connection_id, event.body)


@app.on_ws_disconnect()
def ws_disconnect(event: WebsocketEvent) -> None:
    deps.realtime().disconnect(event.connection_id)


# --- Event sources -------------------------------------------------------------------------


@app.schedule("rate(1 minute)")
def scheduler_tick(event: CloudWatchEvent) -> None:
    """EventBridge's minute tick: fire every due schedule run (at-least-once safe), publish the
    minute's metrics (at most once a minute, however often the tick is delivered), put overdue
    work back on its way (the reconciler), and tell when a dependency went down or came back."""
    deps.scheduler().tick()
    deps.reconciler().run()
    deps.metrics().publish_updated(deps.event_bus().publish, deps.idempotency_claim)
    deps.health().watch()


# Every SQS handler answers which of its records failed (chalicelib/batches.py): only those are
# received again, and a poison message reaches its dead-letter queue alone.
Failures = dict[str, list[dict[str, str]]]


@app.on_sqs_message(queue=queue_name("dispatch"), batch_size=1)
def dispatch_due_schedules(event: SQSEvent) -> Failures:
    """The tick's finds, 50 due schedules a message, fired by as many of these in parallel as
    the herd needs (services/scheduler.py)."""
    return batches.each_record(event, lambda r: deps.scheduler().dispatch(r.body), "dispatch")


@app.on_sqs_message(queue=queue_name("dispatch") + "-dlq", batch_size=10)
def drain_dispatch_dlq(event: SQSEvent) -> Failures:
    return _drain(event)


@app.on_sqs_message(queue=queue_name("executions"), batch_size=10)
def run_schedule_executions(event: SQSEvent) -> Failures:
    return batches.each_record(event, lambda r: deps.runs().run_execution(r.body), "executions")


@app.on_sqs_message(queue=queue_name("retries"), batch_size=10)
def run_retry_attempts(event: SQSEvent) -> Failures:
    """One attempt per message, settled on its own (a retry is re-enqueued by our code); a
    record whose AWS calls failed is received again (its done steps are found done)."""
    return batches.each_record(event, lambda r: deps.retries().process(r.body), "retries")


def _drain(event: SQSEvent) -> Failures:
    """Record every message an SQS DLQ received in the dead-letter table (never dropped)."""
    return batches.each_record(
        event,
        lambda r: deps.dead_letters().from_sqs(r.to_dict()["eventSourceARN"].rsplit(":", 1)[-1], r.to_dict()),
        "dead letters",
    )


@app.on_sqs_message(queue=queue_name("retries") + "-dlq", batch_size=10)
def drain_retries_dlq(event: SQSEvent) -> Failures:
    return _drain(event)


@app.on_sqs_message(queue=queue_name("executions") + "-dlq", batch_size=10)
def drain_executions_dlq(event: SQSEvent) -> Failures:
    return _drain(event)


@app.on_sqs_message(queue=queue_name("events") + "-dlq", batch_size=10)
def drain_events_dlq(event: SQSEvent) -> Failures:
    return _drain(event)


@app.on_sqs_message(queue=queue_name("webhook_deliveries") + "-dlq", batch_size=10)
def drain_webhook_deliveries_dlq(event: SQSEvent) -> Failures:
    return _drain(event)


@app.on_sqs_message(queue=queue_name("events"), batch_size=10)
def fan_out_events(event: SQSEvent) -> Failures:
    """Hand each queued event to its webhook endpoints (one delivery each, idempotent) and push
    it to subscribed WebSockets. A record that is not an event, or whose AWS calls failed, is
    received again alone (its done steps are found done)."""
    return batches.each_record(event, lambda r: deps.fan_out().publish(Event(**json.loads(r.body))), "events")


@app.on_sqs_message(queue=queue_name("webhook_deliveries"), batch_size=10)
def deliver_webhooks(event: SQSEvent) -> Failures:
    """Signed deliveries, the batch's run in parallel over one pooled session; the records
    whose AWS calls failed are received again."""
    records = list(event)
    outcomes = deps.deliveries().deliver_batch([record.body for record in records])
    return batches.failures(
        record.to_dict()["messageId"]
        for record, outcome in zip(records, outcomes, strict=True)
        if isinstance(outcome, Exception)
    )
