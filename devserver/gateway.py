"""A local API Gateway WebSocket API: the app's ``$connect``/``$default``/``$disconnect`` handlers
behind a real WebSocket server, and the ``@connections`` management API on the same port, so that
boto3's ``post_to_connection`` (pointed at ``http://127.0.0.1:<port>``) reaches the socket.

Limits as API Gateway's: 128 KB per message; a ``$connect`` handler that raises or answers a
non-2xx status refuses the connection (HTTP 403, as API Gateway does).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import threading
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web
from chalice import Chalice

from devserver.lambdas import context_for, handler_for, websocket_event

log = logging.getLogger("conductor.devserver")
MAX_MESSAGE_BYTES = 128 * 1024


def _new_connection_id() -> str:
    return base64.b64encode(secrets.token_bytes(10)).decode()  # like "L0SM9cOFvHcCIhw="


class WebSocketGateway:
    def __init__(self, app: Chalice, host: str, port: int, stage: str = "local") -> None:
        self.host = host
        self.port = port
        self.stage = stage
        self.handlers = {route: handler_for(app, cfg) for route, cfg in app.websocket_handlers.items()}
        self.sockets: dict[str, tuple[web.WebSocketResponse, datetime, str]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # --- Lambda invocation -------------------------------------------------------------------

    async def _invoke(self, route_key: str, connection_id: str, **kwargs: Any) -> dict[str, Any]:
        handler = self.handlers.get(route_key) or self.handlers.get("$default")
        if handler is None:
            return {"statusCode": 200}
        event = websocket_event(route_key, connection_id, f"{self.host}:{self.port}", self.stage, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, handler, event, context_for(route_key))

    # --- WebSocket side ----------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.json_response({"message": "WebSocket upgrade required"}, status=426)
        connection_id = _new_connection_id()
        try:
            result = await self._invoke(
                "$connect", connection_id, query=dict(request.query), headers=dict(request.headers)
            )
        except Exception:  # API Gateway refuses the connection
            log.exception("$connect failed")
            result = {"statusCode": 500}
        status = int((result or {}).get("statusCode", 200))
        if not 200 <= status < 300:
            return web.json_response({"message": "Forbidden"}, status=403)
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, autoping=True)
        await ws.prepare(request)
        self.sockets[connection_id] = (ws, datetime.now(UTC), request.remote or "127.0.0.1")
        try:
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    body = (
                        message.data
                        if message.type == WSMsgType.TEXT
                        else message.data.decode(errors="replace")
                    )
                    try:
                        await self._invoke("$default", connection_id, body=body)
                    except Exception:  # one failed message keeps the socket
                        log.exception("$default failed")
        finally:
            self.sockets.pop(connection_id, None)
            try:
                await self._invoke("$disconnect", connection_id)
            except Exception:
                log.exception("$disconnect failed")
        return ws

    # --- @connections management API --------------------------------------------------------

    @staticmethod
    def _gone(connection_id: str) -> web.Response:
        return web.json_response(
            {"message": f"Connection {connection_id} is gone"},
            status=410,
            headers={"x-amzn-ErrorType": "GoneException"},
        )

    async def _post(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        entry = self.sockets.get(connection_id)
        if entry is None or entry[0].closed:
            return self._gone(connection_id)
        data = await request.read()
        if len(data) > MAX_MESSAGE_BYTES:
            return web.json_response(
                {"message": "Message too long"},
                status=413,
                headers={"x-amzn-ErrorType": "PayloadTooLargeException"},
            )
        try:
            await entry[0].send_str(data.decode())
        except UnicodeDecodeError:
            await entry[0].send_bytes(data)
        except ConnectionError:
            return self._gone(connection_id)
        return web.Response(status=200)

    async def _get(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        entry = self.sockets.get(connection_id)
        if entry is None:
            return self._gone(connection_id)
        connected = entry[1].isoformat().replace("+00:00", "Z")
        return web.json_response(
            {"connectedAt": connected, "lastActiveAt": connected, "identity": {"sourceIp": entry[2]}}
        )

    async def _delete(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        entry = self.sockets.get(connection_id)
        if entry is None:
            return self._gone(connection_id)
        await entry[0].close()
        return web.Response(status=204)

    # --- lifecycle -----------------------------------------------------------------------------

    def _application(self) -> web.Application:
        application = web.Application(client_max_size=MAX_MESSAGE_BYTES * 2)
        for prefix in ("", "/{stage}"):
            path = prefix + "/@connections/{connection_id}"
            application.router.add_post(path, self._post)
            application.router.add_get(path, self._get)
            application.router.add_delete(path, self._delete)
        application.router.add_get("/", self._websocket)
        return application

    def start(self) -> None:
        """Serve in a thread with its own event loop; return once the port accepts connections."""
        self._thread = threading.Thread(target=self._serve, name="ws-gateway", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the WebSocket gateway did not start")

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(self._application(), access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.host, self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return

        async def shutdown() -> None:
            await asyncio.gather(
                *(
                    ws.close(code=1001, message=b"server shutting down")
                    for ws, _, _ in list(self.sockets.values())
                ),
                return_exceptions=True,
            )
            await self._runner.cleanup()  # type: ignore[union-attr]

        try:  # closing runs every connection's $disconnect: many sockets take a while
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=60)
        except TimeoutError:
            log.warning("the WebSocket gateway did not close every socket within 60 s")
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
