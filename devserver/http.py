"""The local HTTP API: Chalice's request handling, on a server that behaves like API Gateway
under load — a real listen backlog (Chalice's server keeps Python's default of 5 and resets
concurrent connections beyond it) and JSON errors for what never reaches a route (TRACE)."""

from __future__ import annotations

import json
from typing import Any

from chalice.local import ChaliceRequestHandler, ThreadedHTTPServer

#: Connections waiting to be accepted; API Gateway does not reset a burst, so neither do we.
BACKLOG = 512


class BackloggedServer(ThreadedHTTPServer):
    request_queue_size = BACKLOG
    allow_reuse_address = True


class RequestHandler(ChaliceRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Say nothing: the API logs one JSON line per request already (method, path, status,
        duration, request id); http.server's access line would be a second one."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the HTTP layer answers itself (an unsupported method such as TRACE, a malformed
        request line) in the API's error shape, as API Gateway answers before any Lambda."""
        status, error = (405, "method_not_allowed") if code == 501 else (code, "validation_error")
        body = json.dumps(
            {"error": {"code": error, "message": message or "Bad request.", "details": []}}
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def local_server(app: Any, config: Any, host: str, port: int) -> Any:
    """``chalice.local.create_local_server`` with our server and handler classes."""
    from chalice.local import CustomLocalChalice, LocalChalice, LocalDevServer  # noqa: PLC0415

    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    return LocalDevServer(app, config, host, port, handler_cls=RequestHandler, server_cls=BackloggedServer)
