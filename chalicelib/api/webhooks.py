"""``/v2/webhooks``: endpoints, secrets, test sends, deliveries, redelivery and recovery."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib import deps
from chalicelib.api.http import created, cursor_for, page, position_of
from chalicelib.api.routing import ApiBlueprint
from chalicelib.domain.headers import masked

if TYPE_CHECKING:  # pragma: no cover
    from chalicelib.api.schemas import ListDeliveriesQuery, PageQuery, Recover, WebhookBody
    from chalicelib.domain.webhooks import Delivery, Endpoint

bp = ApiBlueprint(__name__)


def webhook_json(endpoint: Endpoint) -> dict[str, Any]:
    """An endpoint as the ``Webhook`` schema shows it: never its secrets, header values masked."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "headers": masked(endpoint.headers),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "rate_limit": endpoint.rate_limit,
        "max_attempts": endpoint.max_attempts,
        "retry_schedule": list(endpoint.retry_schedule) if endpoint.retry_schedule else None,
        "version": endpoint.version,
        "consecutive_failures": endpoint.consecutive_failures,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


def delivery_json(delivery: Delivery, with_attempts: bool = True) -> dict[str, Any]:
    """A delivery as ``Delivery`` shows it (``DeliverySummary`` in lists: no attempts, no
    payload)."""
    data: dict[str, Any] = {
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempt_count": delivery.attempt_count,
        "max_attempts": delivery.max_attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "dead_letter_id": delivery.dead_letter_id,
        "skipped_reason": delivery.skipped_reason,
        "created_at": delivery.created_at,
        "updated_at": delivery.updated_at,
    }
    if with_attempts:
        data["attempts"] = list(delivery.attempts)
        data["payload"] = json.loads(delivery.payload)
    return data


@bp.operation(
    "POST",
    "/webhooks",
    summary="Subscribe a URL (the secret is shown once)",
    role="operator",
    body="WebhookBody",
    response="WebhookCreated",
    status=201,
)
def create_webhook(body: WebhookBody) -> Response:
    """Subscribes a URL to event types or patterns. Deliveries are signed with Standard Webhooks
    (`webhook-id`, `webhook-timestamp`, `webhook-signature`: HMAC-SHA256 with the secret),
    retried with backoff up to `max_attempts`, and dead-lettered when they give up. The secret
    (`whsec_...`) is in this answer only."""
    endpoint = deps.webhooks().create(body.model_dump(mode="json"))
    return created({**webhook_json(endpoint), "secret": endpoint.secret}, f"/v2/webhooks/{endpoint.id}")


@bp.operation(
    "GET",
    "/webhooks",
    summary="Webhook endpoints, newest first",
    role="viewer",
    query="PageQuery",
    response="WebhookPage",
)
def list_webhooks(query: PageQuery) -> dict[str, Any]:
    """Webhook endpoints, newest first (never their secrets)."""
    items, last = deps.webhooks().list(query.limit, position_of(query, "webhooks"))
    return page([webhook_json(e) for e in items], cursor_for(last, query, "webhooks"))


@bp.operation(
    "GET",
    "/webhooks/deliveries/{delivery_id}",
    summary="One delivery with every attempt",
    role="viewer",
    response="Delivery",
    errors=(404,),
)
def get_delivery(delivery_id: str) -> dict[str, Any]:
    """One delivery: its payload and each attempt's status code, response headers and body excerpt,
    or error."""
    return delivery_json(deps.deliveries().require(delivery_id))


@bp.operation(
    "POST",
    "/webhooks/deliveries/{delivery_id}/redeliver",
    summary="Send a finished delivery again (same webhook-id)",
    role="operator",
    response="Delivery",
    status=202,
    errors=(404, 409),
)
def redeliver(delivery_id: str) -> dict[str, Any]:
    """Sends a delivery's event to its endpoint again, as a new delivery."""
    return delivery_json(deps.deliveries().redeliver(delivery_id))


@bp.operation(
    "GET",
    "/webhooks/{webhook_id}",
    summary="One endpoint (never its secret)",
    role="viewer",
    response="Webhook",
    errors=(404,),
)
def get_webhook(webhook_id: str) -> dict[str, Any]:
    """One endpoint's settings and state (never its secret)."""
    return webhook_json(deps.webhooks().require(webhook_id))


@bp.operation(
    "PUT",
    "/webhooks/{webhook_id}",
    summary="Replace an endpoint's settings",
    role="operator",
    body="WebhookBody",
    response="Webhook",
    errors=(404, 409),
)
def update_webhook(webhook_id: str, body: WebhookBody) -> dict[str, Any]:
    """Replaces an endpoint's settings. Header values come back masked (`********`); send the mask
    to keep a stored value."""
    return webhook_json(deps.webhooks().update(webhook_id, body.model_dump(mode="json")))


@bp.operation(
    "DELETE",
    "/webhooks/{webhook_id}",
    summary="Delete an endpoint",
    role="operator",
    status=204,
    errors=(404,),
)
def delete_webhook(webhook_id: str) -> Response:
    """Deletes an endpoint; nothing more is delivered to it."""
    deps.webhooks().delete(webhook_id)
    return Response(body="", status_code=204)


@bp.operation(
    "POST",
    "/webhooks/{webhook_id}/rotate-secret",
    summary="New secret; the old one signs too for 24 h",
    role="operator",
    response="RotatedSecret",
    errors=(404,),
)
def rotate_secret(webhook_id: str) -> dict[str, Any]:
    """A new signing secret, shown once. Deliveries are signed with both secrets for 24 hours, so
    receivers can switch without missing one."""
    return deps.webhooks().rotate(webhook_id)


@bp.operation(
    "POST",
    "/webhooks/{webhook_id}/test",
    summary="Send a webhook.test event",
    role="operator",
    response="Delivery",
    status=202,
    errors=(404,),
)
def test_webhook(webhook_id: str) -> dict[str, Any]:
    """Sends a `webhook.test` event to this endpoint only, as a real, signed delivery."""
    return delivery_json(deps.deliveries().send_test(webhook_id))


@bp.operation(
    "GET",
    "/webhooks/{webhook_id}/deliveries",
    summary="Deliveries, newest first",
    role="viewer",
    query="ListDeliveriesQuery",
    response="DeliveryPage",
    errors=(404,),
)
def list_deliveries(webhook_id: str, query: ListDeliveriesQuery) -> dict[str, Any]:
    """An endpoint's deliveries, newest first, optionally by status and event type."""
    items, last = deps.deliveries().list(
        webhook_id, query.status, query.event_type, query.limit, position_of(query, "deliveries", webhook_id)
    )
    return page(
        [delivery_json(d, with_attempts=False) for d in items],
        cursor_for(last, query, "deliveries", webhook_id),
    )


@bp.operation(
    "POST",
    "/webhooks/{webhook_id}/recover",
    summary="Redeliver every failed or skipped delivery since a time",
    role="operator",
    body="Recover",
    response="Recovered",
    status=202,
    errors=(404, 409),
)
def recover(webhook_id: str, body: Recover) -> dict[str, Any]:
    """Sends again every delivery to this endpoint that failed (or waited while it was disabled)
    since a time."""
    return deps.deliveries().recover(webhook_id, body.since)
