"""The local runtime (`python -m devserver`) in a subprocess, shared by the end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devserver.runtime import free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "cnd_e2e-bootstrap-admin-key-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


class Runtime:
    def __init__(
        self,
        process: subprocess.Popen[str],
        port: int,
        ws_port: int,
        lines: queue.Queue[str],
        output: list[str],
    ) -> None:
        self.process = process
        self.output = output  # every line printed so far (stdout and stderr)
        self.api = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{ws_port}"
        self.port, self.ws_port = port, ws_port
        self.lines = lines
        self.banner: list[str] = []

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.banner.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed in {timeout}s; got {self.banner[-20:]}")


def wait_until(check: Callable[[], Any], seconds: float = 30) -> Any:
    """Poll ``check`` until it returns something truthy (bounded in time and count)."""
    deadline, value = time.monotonic() + seconds, None
    for _ in range(int(seconds * 10)):
        value = check()
        if value or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return value


@contextlib.contextmanager
def local_runtime(
    *args: str, admin_key: str | None = ADMIN_KEY, wait: bool = True, env: dict[str, str] | None = None
) -> Iterator[Runtime]:
    """``python -m devserver`` with ``args`` (and ``env``) on free ports; killed on exit if still
    running."""
    port, ws_port = free_port(), free_port()
    env = {
        **{
            k: v for k, v in os.environ.items() if k != "CONDUCTOR_SCHEDULER_LOOKAHEAD_SECONDS"
        },  # the default: runs on the second
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    env.pop("CONDUCTOR_ADMIN_KEY", None)
    if admin_key:
        env["CONDUCTOR_ADMIN_KEY"] = admin_key
    process = subprocess.Popen(
        [sys.executable, "-m", "devserver", "--port", str(port), "--ws-port", str(ws_port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip("\n"))
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    handle = Runtime(process, port, ws_port, lines, output)
    try:
        if wait:
            handle.wait_for("Press Ctrl-C to stop.")
        yield handle
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    with local_runtime() as handle:
        yield handle


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e import chromium
    from tests.e2e.dashboard_page import WAIT_MS

    path = chromium.executable()
    if path is None:
        if os.environ.get("CONDUCTOR_SKIP_BROWSER") == "1":
            pytest.skip("CONDUCTOR_SKIP_BROWSER=1 and no Chromium")
        pytest.fail(chromium.MISSING)
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=chromium.ARGS)
        yield instance
        instance.close()


@pytest.fixture
def tab(browser: Any, runtime: Runtime) -> Iterator[Any]:
    from tests.e2e.dashboard_page import Page

    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = Page(context.new_page(), runtime)
    yield page
    context.close()
    # The page talks to the Conductor API and its WebSocket, and to nothing else.
    strays = [u for u in page.requests if not u.startswith((f"{runtime.api}/", "data:", "blob:"))]
    assert strays == [], strays
    assert all(u.startswith(runtime.ws) for u in page.sockets), page.sockets
    # a single-use ticket opens the socket: the API key never goes into a URL
    assert all("ticket=wst_" in u and "cnd_" not in u for u in page.sockets), page.sockets
    assert page.errors == []
