"""Live events over the WebSocket, with reconnect and resume so none is missed."""

from __future__ import annotations

import asyncio
import json
import random
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from conductor_client._http import ConductorError, Transport

#: Event ids remembered to drop the duplicates a resume may replay (live and replayed overlap).
SEEN = 2_000


async def subscribe(
    http: Transport,
    patterns: list[str],
    *,
    after: str | None = None,
    reconnect: bool = True,
    max_backoff: float = 30.0,
    connect: Callable[..., Any] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Yield every event matching ``patterns`` (``schedule.*``, ``error.dead_lettered``, ``*``).

    Each (re)connect takes a fresh single-use ticket (the API key never goes into a URL),
    subscribes, and, once an event has been seen (or ``after`` is given), sends ``resume`` with
    the last id so the server replays what was published while the socket was down. A trimmed
    event (over one WebSocket frame) is fetched whole from its link. Duplicates are dropped.
    """
    import websockets  # noqa: PLC0415 - only callers of subscribe pay for the import

    connect = connect or websockets.connect
    last = after
    seen: deque[str] = deque(maxlen=SEEN)
    backoff = 0.5
    while True:
        ticket = await asyncio.to_thread(http.request, "POST", "/realtime/tickets")
        if not ticket.get("url"):
            raise ConductorError(
                0, "not_configured", "The API knows no WebSocket URL (CONDUCTOR_WS_URL is not set)."
            )
        try:
            async with connect(ticket["url"], open_timeout=10) as socket:
                await socket.send(json.dumps({"action": "subscribe", "events": patterns}))
                if last:
                    await socket.send(json.dumps({"action": "resume", "after": last}))
                backoff = 0.5
                async for raw in socket:
                    message = json.loads(raw)
                    if message.get("action") == "error":
                        error = message.get("error", {})
                        raise ConductorError(0, error.get("code", "error"), error.get("message", ""))
                    if message.get("action") != "event":
                        continue
                    event = message["event"]
                    if event["id"] in seen:
                        continue
                    if event.get("trimmed"):
                        event = await asyncio.to_thread(http.request, "GET", f"/events/{event['id']}")
                    seen.append(event["id"])
                    last = event["id"]
                    yield event
        except (TimeoutError, OSError, websockets.ConnectionClosed, websockets.InvalidHandshake):
            pass
        if not reconnect:
            return
        await asyncio.sleep(backoff * (0.5 + random.random() / 2))  # noqa: S311
        backoff = min(max_backoff, backoff * 2)
