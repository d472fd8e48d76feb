"""``/v2/events``: the event catalog, the timeline, and publishing custom events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import deps
from chalicelib.api.http import bound_cursor, bound_position, created, page
from chalicelib.api.routing import ApiBlueprint
from chalicelib.domain.events import CATALOG, CATEGORIES, CUSTOM_PREFIX
from chalicelib.domain.ids import is_id
from chalicelib.errors import NotFound

if TYPE_CHECKING:  # pragma: no cover
    from chalicelib.api.schemas import ListEventsQuery, PublishEvent

bp = ApiBlueprint(__name__)


@bp.operation(
    "GET", "/events/types", summary="The event catalog", role="viewer", response="EventTypes", v1=True
)
def list_event_types() -> dict[str, Any]:
    """The catalog of event types Conductor publishes, by category, and the prefix (`custom.`)
    under which clients publish their own. Webhook and WebSocket subscriptions name these types
    or patterns such as `schedule.*`."""
    return {
        "categories": list(CATEGORIES),
        "items": [{"type": t.name, "category": t.category, "description": t.description} for t in CATALOG],
        "custom_prefix": CUSTOM_PREFIX,
    }


@bp.operation(
    "GET",
    "/events",
    summary="The event timeline, newest first",
    role="viewer",
    query="ListEventsQuery",
    response="EventPage",
    v1=True,
)
def list_events(query: ListEventsQuery) -> dict[str, Any]:
    """The event timeline, newest first, optionally of one type and a time range (default: the last
    30 days). Events are kept `CONDUCTOR_EVENT_TTL_DAYS` (30) days."""
    result = deps.event_bus().list(
        limit=query.limit,
        start=query.from_,
        end=query.to,
        event_type=query.type,
        position=bound_position(query, "events"),
    )
    return page([e.to_dict() for e in result.events], bound_cursor(result.position, query, "events"))


@bp.operation(
    "GET", "/events/{event_id}", summary="One event", role="viewer", response="Event", v1=True, errors=(404,)
)
def get_event(event_id: str) -> dict[str, Any]:
    """One event by id: the same object a webhook delivery carries and a WebSocket message wraps.
    One event by id: the same object a webhook delivery carries and a WebSocket message wraps."""
    event = deps.event_bus().get(event_id) if is_id(event_id, "evt") else None
    if event is None:
        raise NotFound(f"No event {event_id}.")
    return event.to_dict()


@bp.operation(
    "POST",
    "/events",
    summary="Publish a custom event",
    role="operator",
    body="PublishEvent",
    response="Event",
    status=201,
)
def publish_event(body: PublishEvent) -> Any:
    """Publishes a custom event (type `custom.` and 1-4 lowercase segments): it is stored in the
    timeline, delivered to the webhook endpoints and pushed to the WebSockets subscribed to it.
    At most 256 KiB."""
    event = deps.event_bus().publish(body.type, body.data)
    return created(event.to_dict(), f"/v2/events/{event.id}")
