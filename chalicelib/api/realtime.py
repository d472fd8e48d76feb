"""``/v2/realtime/tickets``: single-use, short-lived tickets to open the WebSocket with, so the
long-lived API key never travels in a URL (access logs and proxies keep URLs)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from chalice import Response

from chalicelib import deps
from chalicelib.api.http import created
from chalicelib.api.routing import ApiBlueprint
from chalicelib.config import get_settings
from chalicelib.services.auth import Principal

bp = ApiBlueprint(__name__)


@bp.operation(
    "POST",
    "/realtime/tickets",
    summary="A single-use WebSocket ticket (60 s)",
    role="viewer",
    response="RealtimeTicket",
    status=201,
)
def create_ticket(principal: Principal) -> Response:
    """A single-use ticket to open the WebSocket with (`?ticket=wst_...`) within 60 seconds, so the
    API key never travels in a URL. `url` is the WebSocket URL with the ticket."""
    ticket, expires_at = deps.authenticator().issue_ticket(principal)
    base = get_settings().websocket_url
    url = None
    if base:
        url = f"{base}{'&' if '?' in base else '?'}{urlencode({'ticket': ticket})}"
    body: dict[str, Any] = {"ticket": ticket, "expires_at": expires_at, "url": url}
    return created(body)
