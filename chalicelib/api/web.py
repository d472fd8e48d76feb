"""``/dashboard`` (the operators' page) and ``/docs`` (the API reference): static files shipped
inside chalicelib/ with the Lambda.

No build step: plain HTML, CSS and ES modules; the reference is Swagger UI, vendored (no CDN).
The Content-Security-Policy lets each page talk only to this API (and the dashboard to its
WebSocket), and run only these files.
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
ASSETS = {
    name: TYPES[Path(name).suffix]
    for name in (
        "dashboard.css",
        "app.js",
        "api.js",
        "live.js",
        "gantt.js",
        "charts.js",
        "ui.js",
        "view.js",
        "view-overview.js",
        "view-errors.js",
        "view-dead-letters.js",
        "view-schedules.js",
        "view-webhooks.js",
        "view-analytics.js",
        "detail.js",
        "forms.js",
    )
}


#: the reference's files: our page and initializer, and the vendored Swagger UI
DOCS_DIR = WEB / "docs"
SWAGGER_UI = DOCS_DIR / "vendor" / "swagger-ui"
DOCS = {
    "docs.js": (DOCS_DIR / "docs.js", TYPES[".js"]),
    "docs.css": (DOCS_DIR / "docs.css", TYPES[".css"]),
    "swagger-ui-bundle.js": (SWAGGER_UI / "swagger-ui-bundle.js", TYPES[".js"]),
    "swagger-ui.css": (SWAGGER_UI / "swagger-ui.css", TYPES[".css"]),
}


@functools.cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def content_security_policy(websocket_url: str | None) -> str:
    """Only this origin (the API), the configured WebSocket, and the page's own files."""
    connect = "'self'" + (f" {websocket_url}" if websocket_url else "")
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _headers(content_type: str, policy: str | None = None, cache: str = "no-cache") -> dict[str, str]:
    """A static file's headers; ``policy`` defaults to the dashboard's."""
    return {
        "Content-Type": content_type,
        "Cache-Control": cache,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": policy or content_security_policy(get_settings().websocket_url),
    }


@bp.route("/dashboard", methods=["GET"])
def dashboard() -> Response:
    return Response(
        body=_read(WEB / "dashboard.html"), status_code=200, headers=_headers("text/html; charset=utf-8")
    )


@bp.route("/dashboard/{asset}", methods=["GET"])
def dashboard_asset(asset: str) -> Response:
    content_type = ASSETS.get(asset)
    if content_type is None:
        return error_response("not_found", f"No dashboard file named {asset!r}.")
    return Response(body=_read(WEB / asset), status_code=200, headers=_headers(content_type))


#: Swagger UI sets inline styles on its elements; nothing else is loosened.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@bp.route("/docs", methods=["GET"])
def docs() -> Response:
    return Response(
        body=_read(DOCS_DIR / "docs.html"),
        status_code=200,
        headers=_headers("text/html; charset=utf-8", DOCS_POLICY),
    )


@bp.route("/docs/{asset}", methods=["GET"])
def docs_asset(asset: str) -> Response:
    found = DOCS.get(asset)
    if found is None:
        return error_response("not_found", f"No reference file named {asset!r}.")
    path, content_type = found
    return Response(
        body=_read(path), status_code=200, headers=_headers(content_type, DOCS_POLICY, "public, max-age=3600")
    )
