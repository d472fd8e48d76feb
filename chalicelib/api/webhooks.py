"""``/v2/webhooks``: endpoints, secrets, test sends, deliveries, redelivery and recovery."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib import deps
from chalicelib.api.http import created, cursor_for, page, position_of
from chalicelib.api.routing import ApiBlueprint

if TYPE_CHECKING:  # pragma: no cover
    from chalicelib.api.schemas import ListDeliveriesQuery, PageQuery, Recover, WebhookBody

bp = ApiBlueprint(__name__)


@bp.operation("POST", "/webhooks", summary="Subscribe a URL (the secret is shown once)",
              role="operator", body="WebhookBody", response="WebhookCreated", status=201)
def create_webhook(body: WebhookBody) -> Response:
    """Subscribes a URL to event types or patterns. Deliveries are signed with Standard Webhooks
    (`webhook-id`, `webhook-timestamp`, `webhook-signature`: HMAC-SHA256 with the secret),
    retried with backoff up to `max_attempts`, and dead-lettered when they give up. The secret
    (`whsec_...`) is in this answer only."""
    webhook = deps.webhooks().create(body.model_dump(mode="json"))
    return created(webhook, f"/v2/webhooks/{webhook['id']}")


@bp.operation("GET", "/webhooks", summary="Webhook endpoints, newest first", role="viewer",
              query="PageQuery", response="WebhookPage")
def list_webhooks(query: PageQuery) -> dict[str, Any]:
    """Webhook endpoints, newest first (never their secrets)."""
    items, last = deps.webhooks().list(query.limit, position_of(query, "webhooks"))
    return page(items, cursor_for(last, query, "webhooks"))


@bp.operation("GET", "/webhooks/deliveries/{delivery_id}",
              summary="One delivery with every attempt", role="viewer", response="Delivery",
              errors=(404,))
def get_delivery(delivery_id: str) -> dict[str, Any]:
    """One delivery: its payload and each attempt's status code, response headers and body excerpt,
    or error."""
    return deps.webhooks().delivery(delivery_id)


@bp.operation("POST", "/webhooks/deliveries/{delivery_id}/redeliver",
              summary="Send a finished delivery again (same webhook-id)", role="operator",
              response="Delivery", status=202, errors=(404, 409))
def redeliver(delivery_id: str) -> dict[str, Any]:
    """Sends a delivery's event to its endpoint again, as a new delivery."""
    return deps.webhooks().redeliver(delivery_id)


@bp.operation("GET", "/webhooks/{webhook_id}", summary="One endpoint (never its secret)",
              role="viewer", response="Webhook", errors=(404,))
def get_webhook(webhook_id: str) -> dict[str, Any]:
    """One endpoint's settings and state (never its secret)."""
    return deps.webhooks().get(webhook_id)


@bp.operation("PUT", "/webhooks/{webhook_id}", summary="Replace an endpoint's settings",
              role="operator", body="WebhookBody", response="Webhook", errors=(404, 409))
def update_webhook(webhook_id: str, body: WebhookBody) -> dict[str, Any]:
    """Replaces an endpoint's settings. Header values come back masked (`********`); send the mask
    to keep a stored value."""
    return deps.webhooks().update(webhook_id, body.model_dump(mode="json"))


@bp.operation("DELETE", "/webhooks/{webhook_id}", summary="Delete an endpoint", role="operator",
              status=204, errors=(404,))
def delete_webhook(webhook_id: str) -> Response:
    """Deletes an endpoint; nothing more is delivered to it."""
    deps.webhooks().delete(webhook_id)
    return Response(body="", status_code=204)


@bp.operation("POST", "/webhooks/{webhook_id}/rotate-secret",
              summary="New secret; the old one signs too for 24 h", role="operator",
              response="RotatedSecret", errors=(404,))
def rotate_secret(webhook_id: str) -> dict[str, Any]:
    """A new signing secret, shown once. Deliveries are signed with both secrets for 24 hours, so
    receivers can switch without missing one."""
    return deps.webhooks().rotate(webhook_id)


@bp.operation("POST", "/webhooks/{webhook_id}/test", summary="Send a webhook.test event",
              role="operator", response="Delivery", status=202, errors=(404,))
def test_webhook(webhook_id: str) -> dict[str, Any]:
    """Sends a `webhook.test` event to this endpoint only, as a real, signed delivery."""
    return deps.webhooks().send_test(webhook_id)


@bp.operation("GET", "/webhooks/{webhook_id}/deliveries", summary="Deliveries, newest first",
              role="viewer", query="ListDeliveriesQuery", response="DeliveryPage", errors=(404,))
def list_deliveries(webhook_id: str, query: ListDeliveriesQuery) -> dict[str, Any]:
    """An endpoint's deliveries, newest first, optionally by status and event type."""
    items, last = deps.webhooks().deliveries(webhook_id, query.status, query.event_type,
                                             query.limit,
                                             position_of(query, "deliveries", webhook_id))
    return page(items, cursor_for(last, query, "deliveries", webhook_id))


@bp.operation("POST", "/webhooks/{webhook_id}/recover",
              summary="Redeliver every failed or skipped delivery since a time", role="operator",
              body="Recover", response="Recovered", status=202, errors=(404, 409))
def recover(webhook_id: str, body: Recover) -> dict[str, Any]:
    """Sends again every delivery to this endpoint that failed (or waited while it was disabled)
    since a time."""
    return deps.webhooks().recover(webhook_id, body.since)
