"""``/v2/dashboard/*``: health of every dependency and the signed-in session (the read models
over metrics live in api/metrics.py)."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib import deps
from chalicelib.api.routing import ApiBlueprint
from chalicelib.config import get_settings
from chalicelib.domain.timeutil import to_iso
from chalicelib.services.auth import Principal

bp = ApiBlueprint(__name__)


@bp.operation(
    "GET",
    "/dashboard/health",
    summary="Is every table and queue reachable?",
    role="viewer",
    response="HealthReport",
    errors=(503,),
)
def health() -> Response:
    """Checks each DynamoDB table and SQS queue Conductor uses; `degraded` names what is down."""
    report = deps.health().check()
    return Response(body=report, status_code=200 if report["status"] == "ok" else 503)


@bp.operation(
    "GET",
    "/dashboard/session",
    summary="Who is signed in, and where to subscribe",
    role="viewer",
    response="DashboardSession",
)
def session(principal: Principal) -> dict[str, Any]:
    """Who the calling key is (id, name, role), where to open the WebSocket, and the server's
    clock. The dashboard shows write buttons by this role."""
    return {
        "key": {"id": principal.key_id, "name": principal.name, "role": principal.role},
        "websocket_url": get_settings().websocket_url,
        "server_time": to_iso(deps.clock()),
    }
