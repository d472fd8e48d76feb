"""``conductor listen``: receive Conductor's webhooks on this machine and check each signature.

Like ``svix listen`` without the relay: the receiver listens on ``HOST:PORT`` (loopback by
default), an endpoint is created for it (or ``--secret`` names an existing one's), and each
delivery is verified with the ``standardwebhooks`` reference library before it is printed. A
delivery that fails verification is answered 401, so Conductor records the failure too.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from standardwebhooks import Webhook, WebhookVerificationError

from conductor_client import Conductor

#: Bodies over this are refused before reading (Conductor's events are at most 256 KiB).
MAX_BODY = 1024 * 1024


class Listener:
    def __init__(
        self,
        client: Conductor,
        *,
        host: str = "127.0.0.1",
        port: int = 8787,
        events: list[str] | None = None,
        secret: str | None = None,
        public_url: str | None = None,
        keep: bool = False,
        as_json: bool = False,
        out: TextIO,
    ) -> None:
        self.client = client
        self.host, self.port = host, port
        self.events = events or ["*"]
        self.secret = secret
        self.public_url = public_url
        self.keep = keep
        self.as_json = as_json
        self.out = out
        self.received = 0
        self.endpoint_id: str | None = None
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
        self.port = self._server.server_address[1]  # port 0: the one the system chose
        threading.Thread(target=self._server.serve_forever, name="listen", daemon=True).start()
        url = self.public_url or f"http://{self.host}:{self.port}/"
        if self.secret is None:
            endpoint = self.client.webhooks.create(
                url, self.events, description=f"conductor listen on {self.host}:{self.port}"
            )
            self.endpoint_id, self.secret = endpoint["id"], endpoint["secret"]
        self._verifier = Webhook(self.secret)
        self._say(
            {"listening": url, "endpoint_id": self.endpoint_id, "events": self.events},
            f"Listening on {url} for {', '.join(self.events)}"
            + (f" (endpoint {self.endpoint_id})" if self.endpoint_id else "")
            + "; Ctrl-C to stop",
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.endpoint_id and not self.keep:
            self.client.webhooks.delete(self.endpoint_id)
            self._say({"deleted": self.endpoint_id}, f"Deleted endpoint {self.endpoint_id}")
            self.endpoint_id = None

    def _say(self, record: dict[str, Any], text: str) -> None:
        with self._lock:
            print(json.dumps(record, sort_keys=True) if self.as_json else text, file=self.out, flush=True)

    def receive(self, body: bytes, headers: dict[str, str]) -> int:
        """Verify and print one delivery; answer its HTTP status."""
        now = datetime.now(UTC).strftime("%H:%M:%S")
        try:
            event = self._verifier.verify(body, headers)
        except (WebhookVerificationError, ValueError) as exc:
            self._say(
                {"verified": False, "reason": str(exc), "webhook_id": headers.get("webhook-id")},
                f"{now}  REFUSED  {headers.get('webhook-id', '-')}: {exc}",
            )
            return 401
        with self._lock:
            self.received += 1
        data = json.dumps(event.get("data", {}), sort_keys=True)
        self._say(
            {"verified": True, "webhook_id": headers.get("webhook-id"), "event": event},
            f"{now}  verified  {event.get('type', '?'):<28} {event.get('id', '-')}  "
            f"{data if len(data) <= 100 else data[:99] + '…'}",
        )
        return 204

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self.send_response(413)
                    self.end_headers()
                    return
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                self.send_response(listener.receive(body, headers))
                self.end_headers()

            def log_message(self, *_: Any) -> None:  # one line per delivery is ours to print
                return

        return Handler
