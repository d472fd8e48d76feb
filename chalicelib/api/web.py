"""``/dashboard``: the operators' page, a static file shipped inside chalicelib/ with the Lambda."""
from __future__ import annotations

import functools
from pathlib import Path

from chalice import Blueprint, Response

bp = Blueprint(__name__)
WEB = Path(__file__).resolve().parent.parent / "web"


@functools.cache
def _page(name: str) -> str:
    return (WEB / name).read_text(encoding="utf-8")


@bp.route("/dashboard", methods=["GET"])
def dashboard() -> Response:
    return Response(body=_page("dashboard.html"), status_code=200, headers={
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
                                   "script-src 'unsafe-inline'; connect-src 'self' ws: wss:",
        "Cache-Control": "no-cache",
    })
