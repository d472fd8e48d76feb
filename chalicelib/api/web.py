"""``/dashboard``: the operators' page, static files shipped inside chalicelib/ with the Lambda.

No build step: plain HTML, CSS and ES modules. The Content-Security-Policy lets the page talk
only to this API and its WebSocket, and run only these files.
"""
from __future__ import annotations

import functools
from pathlib import Path

from chalice import Blueprint, Response

from chalicelib.api.errors import error_response
from chalicelib.config import get_settings

bp = Blueprint(__name__)
WEB = Path(__file__).resolve().parent.parent / "web"
TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
#: every file the page is made of, with its content type; nothing else under /dashboard/ is served
ASSETS = {name: TYPES[Path(name).suffix] for name in (
    "dashboard.css", "app.js", "api.js", "live.js", "views.js", "gantt.js", "charts.js", "ui.js")}


@functools.cache
def _file(name: str) -> str:
    return (WEB / name).read_text(encoding="utf-8")


def content_security_policy(websocket_url: str | None) -> str:
    """Only this origin (the API), the configured WebSocket, and the page's own files."""
    connect = "'self'" + (f" {websocket_url}" if websocket_url else "")
    return (f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _headers(content_type: str) -> dict[str, str]:
    return {"Content-Type": content_type, "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": content_security_policy(get_settings().websocket_url)}


@bp.route("/dashboard", methods=["GET"])
def dashboard() -> Response:
    return Response(body=_file("dashboard.html"), status_code=200,
                    headers=_headers("text/html; charset=utf-8"))


@bp.route("/dashboard/{asset}", methods=["GET"])
def dashboard_asset(asset: str) -> Response:
    content_type = ASSETS.get(asset)
    if content_type is None:
        return error_response("not_found", f"No dashboard file named {asset!r}.")
    return Response(body=_file(asset), status_code=200, headers=_headers(content_type))
