"""``/v2/events``: the event catalog, the timeline, and publishing custom events."""
from __future__ import annotations

from typing import Any

from chalicelib import deps
from chalicelib.api.http import (
    ApiBlueprint,
    allow_params,
    created,
    page,
    parse_limit,
    parse_time,
    query,
    read_object,
)
from chalicelib.config import get_settings
from chalicelib.domain.cursor import decode_cursor, encode_cursor
from chalicelib.domain.events import CATALOG, CATEGORIES, is_custom_type, is_known_type
from chalicelib.domain.ids import is_id
from chalicelib.errors import NotFound, ValidationFailed

bp = ApiBlueprint(__name__)


@bp.route("/events/types", methods=["GET"])
def list_event_types() -> dict[str, Any]:
    return {
        "categories": list(CATEGORIES),
        "items": [{"type": t.name, "category": t.category, "description": t.description}
                  for t in CATALOG],
        "custom_prefix": "custom.",
    }


@bp.route("/events", methods=["GET"])
def list_events() -> dict[str, Any]:
    params = query(bp.current_request)
    allow_params(params, {"type", "from", "to", "limit", "cursor"})
    event_type = params.get("type")
    if event_type is not None and not is_known_type(event_type):
        raise ValidationFailed("Unknown event type.", [
            {"field": "type", "problem": "must be a type from /v2/events/types or custom.*"}])
    secret = get_settings().cursor_secret
    result = deps.event_bus().list(
        limit=parse_limit(params),
        start=parse_time(params, "from"),
        end=parse_time(params, "to"),
        event_type=event_type,
        position=decode_cursor(params.get("cursor"), secret),
    )
    return page([e.to_dict() for e in result.events], encode_cursor(result.position, secret))


@bp.route("/events/{event_id}", methods=["GET"])
def get_event(event_id: str) -> dict[str, Any]:
    event = deps.event_bus().get(event_id) if is_id(event_id, "evt") else None
    if event is None:
        raise NotFound(f"No event {event_id}.")
    return event.to_dict()


@bp.route("/events", methods=["POST"])
def publish_event() -> Any:
    body = read_object(bp.current_request)
    problems = []
    event_type, data = body.get("type"), body.get("data", {})
    if not isinstance(event_type, str) or not is_custom_type(event_type):
        problems.append({"field": "type", "problem":
                         "must be a custom type like 'custom.order_shipped' (lowercase segments)"})
    if not isinstance(data, dict):
        problems.append({"field": "data", "problem": "must be an object"})
    unknown = sorted(set(body) - {"type", "data"})
    problems += [{"field": name, "problem": "is not a field of this request"} for name in unknown]
    if problems:
        raise ValidationFailed("The event is invalid.", problems)
    event = deps.event_bus().publish(event_type, data)
    return created(event.to_dict(), f"/v2/events/{event.id}")
