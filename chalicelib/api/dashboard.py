"""``/v2/dashboard/*``: health of every dependency (more views arrive with the metrics issue)."""
from __future__ import annotations

from chalice import Response

from chalicelib import deps
from chalicelib.api.routing import ApiBlueprint

bp = ApiBlueprint(__name__)


@bp.operation("GET", "/dashboard/health", summary="Is every table and queue reachable?",
              role="viewer", response="HealthReport", errors=(503,))
def health() -> Response:
    report = deps.health().check()
    return Response(body=report, status_code=200 if report["status"] == "ok" else 503)
