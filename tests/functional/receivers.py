"""Real HTTP receivers on 127.0.0.1 for tests: they answer from a script and count requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Answers each request with the next scripted (status, headers); the last one repeats."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.url = ""
        self.delay_seconds = 0.0  # how long to think before answering (timeouts)
        self.reason: str | None = None  # a reason phrase of the server's own (None: standard)

    def next_answer(self) -> tuple[int, dict[str, str]]:
        with self.lock:
            index = min(len(self.requests), len(self.script)) - 1
            return self.script[max(0, index)]

    def set_script(self, script: list[tuple[int, dict[str, str]]]) -> None:
        with self.lock:
            self.script = list(script)
            self.requests.clear()


@contextmanager
def receiver(script: list[tuple[int, dict[str, str]]]) -> Iterator[Receiver]:
    state = Receiver(script)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with state.lock:
                state.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
            status, headers = state.next_answer()
            if state.delay_seconds:
                threading.Event().wait(state.delay_seconds)
            payload = json.dumps({"status": status}).encode()
            self.send_response(status, state.reason)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
