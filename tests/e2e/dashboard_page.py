"""The dashboard in a browser tab, and the API calls its tests make: shared by the dashboard's
end-to-end tests (the ``browser`` and ``tab`` fixtures are in conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from devserver.runtime import free_port
from tests.e2e.conftest import AUTH, ROOT, Runtime

SHOTS = ROOT / "artifacts" / "dashboard"
WAIT_MS = 20_000


class Page:
    """A browser tab on the dashboard that records every request it makes."""

    def __init__(self, page: Any, runtime: Runtime) -> None:
        self.page = page
        self.runtime = runtime
        self.requests: list[str] = []
        self.sockets: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("websocket", lambda ws: self.sockets.append(ws.url))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.set_default_timeout(WAIT_MS)

    def sign_in(self, key: str) -> None:
        self.page.goto(f"{self.runtime.api}/dashboard")
        self.page.fill("#key", key)
        self.page.click("#signin button[type=submit]")
        self.page.wait_for_selector("#view[data-view=overview] [data-card]")
        self.page.wait_for_selector("#live[data-state=live]")

    def open(self, view: str) -> None:
        self.page.click(f"#nav a[data-view={view}]")
        self.page.wait_for_selector(f"#view[data-view={view}] #view-body[aria-busy=false]")

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def call(
    runtime: Runtime, method: str, path: str, body: Any = None, key_headers: dict[str, str] = AUTH
) -> Any:
    response = requests.request(
        method, f"{runtime.api}/v2/{path}", json=body, headers=key_headers, timeout=10
    )
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def new_key(runtime: Runtime, role: str) -> str:
    return call(runtime, "POST", "api-keys", {"name": f"e2e {role}", "role": role})["key"]


def until(check: Callable[[], Any], timeout: float = 30, sleep: Callable[[float], Any] | None = None) -> Any:
    """Polls ``check``; pass the page's wait_for_timeout as ``sleep`` where Playwright's own
    handlers must run meanwhile (time.sleep would block them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if sleep is None:
            time.sleep(0.3)
        else:
            sleep(300)
    raise AssertionError(f"not true within {timeout}s")


def make_dead_letter(runtime: Runtime, service: str) -> dict[str, Any]:
    closed = free_port()  # nothing listens: the one attempt is refused, the job dead-letters
    job = call(
        runtime,
        "POST",
        "errors/retry",
        {
            "service": service,
            "error": {"type": "Timeout", "message": "upstream timed out"},
            "target": {"type": "http", "url": f"http://127.0.0.1:{closed}/charge"},
            "retry_policy": {"max_attempts": 1},
        },
    )
    dead = until(lambda: call(runtime, "GET", f"errors/retry/{job['id']}")["dead_letter_id"])
    return call(runtime, "GET", f"dlq/{dead}")


def more(row: Any, name: str) -> Any:
    """A row's secondary action: behind its "More" menu, opened first if it is closed."""
    menu = row.locator("details.menu")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    return row.get_by_role("button", name=name, exact=True)
