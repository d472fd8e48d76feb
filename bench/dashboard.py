"""The dashboard page in headless Chromium against the local runtime.

1. Page weight: the bytes of every file the page is made of, raw and gzipped.
2. Per view: the API requests the page makes to show it, and the median time from clicking its
   link until it has rendered, with little data (10 schedules, 10 dead letters) and with more
   (200 schedules, 300 dead letters) in the same runtime; the ratio is printed. The views that
   list everything (schedules, dead letters) are expected to grow; the others should not.
3. The same for a schedule's and a dead letter's own page (#schedules/sch_…, #dead-letters/dlq_…):
   a fixed number of requests whatever is stored.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("CONDUCTOR_ADMIN_KEY", "cnd_bench-dashboard-admin-key-00000000000")

VIEWS = ("overview", "errors", "dead-letters", "schedules", "webhooks", "analytics")


def page_weight() -> tuple[int, int]:
    from chalicelib.api.web import ASSETS, WEB

    names = ["dashboard.html", *ASSETS]
    raw = b"".join((WEB / name).read_bytes() for name in names)
    return len(raw), sum(len(gzip.compress((WEB / n).read_bytes())) for n in names)


def add_data(schedules: int, dead_letters: int, offset: int) -> None:
    """Straight into the services (as the API and the DLQ drains would), so set-up takes seconds."""
    from chalicelib import deps
    from chalicelib.api.routing import validate

    for i in range(schedules):
        body = validate(
            "ScheduleBody",
            {
                # a run far ahead: runs firing during the bench would be timed as the views' cost
                "name": f"bench {offset + i}",
                "expression": "at(2027-06-01T00:00:00)",
                "target": {"type": "event", "event_type": "custom.bench"},
            },
            "body",
        )
        deps.schedules().create(body.model_dump(mode="json"))
    letters = deps.dead_letters()
    for i in range(dead_letters):  # three queues: three fingerprints to group by
        letters.from_sqs(
            f"bench-{i % 3}-dlq",
            {"messageId": f"m-{offset + i}", "body": "{}", "attributes": {"ApproximateReceiveCount": "5"}},
        )


def settle(page: Any, socket: Any, quiet_ms: int = 5000, limit_s: float = 300) -> float:
    """Waits until no event has reached the page's WebSocket for ``quiet_ms``: the live events that
    new data set off (and the reloads they cause) must not be timed as a view's own cost."""
    last = [time.monotonic()]

    def seen(_frame: Any) -> None:
        last[0] = time.monotonic()

    socket.on("framereceived", seen)
    started = time.monotonic()
    deadline = started + limit_s
    while time.monotonic() < deadline and time.monotonic() - last[0] < quiet_ms / 1000:
        page.wait_for_timeout(250)
    socket.remove_listener("framereceived", seen)
    return time.monotonic() - started


def detail_pages() -> dict[str, tuple[str, str]]:
    """One schedule's and one dead letter's page: name -> (hash, the page's kind)."""
    from chalicelib import deps

    schedules, _ = deps.schedules().list(None, None, 1, None)
    letters, _ = deps.dead_letters().list("open", None, None, None, 1, None)
    return {
        "schedule page": (f"schedules/{schedules[0].id}", "Schedule"),
        "dead letter page": (f"dead-letters/{letters[0].id}", "Dead letter"),
    }


def measure(page: Any, rounds: int) -> dict[str, tuple[float, int]]:
    requests: list[str] = []

    def record(request: Any) -> None:
        if "/v2/" in request.url:
            requests.append(request.url)

    page.on("request", record)
    times: dict[str, list[float]] = {v: [] for v in VIEWS}
    counts: dict[str, int] = {}
    for _ in range(rounds):
        for view in VIEWS:
            requests.clear()
            started = time.perf_counter()
            page.click(f"#nav a[data-view={view}]")
            page.wait_for_selector(f"#view[data-view={view}] #view-body[aria-busy=false]")
            times[view].append(time.perf_counter() - started)
            counts[view] = len(requests)
        for name, (hash_, kind) in detail_pages().items():
            requests.clear()
            started = time.perf_counter()
            page.evaluate(f"location.hash = {hash_!r}")
            page.wait_for_selector(f"#view[data-detail='{kind}'] #view-body[aria-busy=false]")
            times.setdefault(name, []).append(time.perf_counter() - started)
            counts[name] = len(requests)
    page.remove_listener("request", record)
    return {v: (statistics.median(t), counts[v]) for v, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import logging

    from playwright.sync_api import sync_playwright

    from devserver.runtime import LocalRuntime, RuntimeOptions, free_port
    from tests.e2e import chromium

    raw, zipped = page_weight()
    print(
        f"page weight: {raw / 1024:.1f} KiB in {len(VIEWS)} views' files, "
        f"{zipped / 1024:.1f} KiB gzipped (each file on its own)"
    )
    runtime = LocalRuntime(
        RuntimeOptions(port=free_port(), ws_port=free_port(), admin_key=os.environ["CONDUCTOR_ADMIN_KEY"])
    )
    runtime.start()
    logging.disable(logging.INFO)
    try:
        with sync_playwright() as playwright:
            path = chromium.executable()
            if path is None:
                sys.exit(chromium.MISSING)
            browser = playwright.chromium.launch(executable_path=path, args=chromium.ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            sockets: list[Any] = []
            page.on("websocket", lambda socket: sockets.append(socket))
            page.goto(f"{runtime.api_url.removesuffix('/v2')}/dashboard")
            page.fill("#key", runtime.admin_key)
            page.click("#signin button[type=submit]")
            page.wait_for_selector("#live[data-state=live]")
            add_data(10, 10, 0)
            settle(page, sockets[0])
            measure(page, 1)  # warm: clients, caches, the browser's module cache
            small = measure(page, args.rounds)
            add_data(190, 290, 10)
            print(f"(the live events of the new data settled in {settle(page, sockets[0]):.0f} s)")
            measure(page, 1)
            large = measure(page, args.rounds)
            browser.close()
    finally:
        runtime.stop()
    print(f"time to render each view (median of {args.rounds}), API requests it made:")
    print(f"  {'view':16s} {'10 sch / 10 dlq':>18s} {'200 sch / 300 dlq':>20s}  ratio")
    for view in small:
        (t1, n1), (t2, n2) = small[view], large[view]
        print(
            f"  {view:16s} {t1 * 1000:9.0f} ms {n1:3d} req {t2 * 1000:10.0f} ms {n2:3d} req  {t2 / t1:5.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
