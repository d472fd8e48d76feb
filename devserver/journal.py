"""``make run ARGS="--data DIR"``: no acknowledged write lost to a crash (kill -9, a power cut).

The snapshot (``persist.py``) is written each minute; what was written since would be lost. So
moto's server, in front of its WSGI app, appends every mutating DynamoDB and SQS call that it
answered 200 to ``DIR/journal.jsonl`` and fsyncs it *before* the answer leaves: a write Conductor
was told about is on disk. At start the runtime loads the snapshot, replays the journal against
moto in order, writes a new snapshot and empties the journal; each snapshot empties it too (taken
with mutating calls held, so the journal holds exactly what the snapshot does not).

Replaying a journal is replaying the same requests on the same state in the same order, so each
write lands as it did the first time. The one thing that does not come back is a message's
deletion (its receipt handle belonged to the old process): a message handled since the last
snapshot is handled again, which every handler is built for (at-least-once).
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger("conductor.devserver")
MUTATING = frozenset(
    {
        "DynamoDB_20120810.PutItem",
        "DynamoDB_20120810.UpdateItem",
        "DynamoDB_20120810.DeleteItem",
        "DynamoDB_20120810.BatchWriteItem",
        "DynamoDB_20120810.TransactWriteItems",
        "AmazonSQS.SendMessage",
        "AmazonSQS.SendMessageBatch",
        "AmazonSQS.PurgeQueue",
    }
)
#: headers a replay needs (moto routes by the signature's credential scope and the target)
KEPT = ("authorization", "x-amz-target", "content-type", "x-amz-date", "host")


class Journal:
    """An append-only, fsync'd file of mutating calls, readable by this user only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._file = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a")
        #: held while a mutating call is applied and journaled, and while a snapshot is taken
        self.lock = threading.RLock()
        self.written = 0
        #: off while the journal itself is replayed (those calls are in it already)
        self.recording = True

    def append(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self._file.write(
            json.dumps(
                {"method": method, "path": path, "headers": headers, "body": body.decode("utf-8", "replace")}
            )
            + "\n"
        )
        self._file.flush()
        os.fsync(self._file.fileno())
        self.written += 1

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open() as file:
            return [json.loads(line) for line in file if line.strip()]

    def clear(self) -> None:
        """Empty it (the snapshot just written holds everything it did)."""
        self._file.truncate(0)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def replay(entries: Iterable[dict[str, Any]], host: str, port: int) -> int:
    """Send each journaled call to moto again, in order; answers how many it applied."""
    applied = 0
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        for entry in entries:
            connection.request(
                entry["method"], entry["path"], body=entry["body"].encode(), headers=entry["headers"]
            )
            response = connection.getresponse()
            response.read()
            applied += response.status == 200  # a deletion of a message that is gone: 400
    finally:
        connection.close()
    return applied


def journaling(app: Callable[..., Any], journal: Journal) -> Callable[..., Any]:
    """A WSGI middleware: a mutating call answered 200 is on disk before its answer goes out."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target not in MUTATING or not journal.recording:
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        answered: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered["status"], answered["headers"] = status, headers
            answered["exc_info"] = exc_info
            return lambda _data: None  # the body is returned below, not written

        with journal.lock:  # applied and journaled in one order
            chunks = b"".join(app(environ, capture))
            if answered.get("status", "").startswith("200"):
                headers = {
                    name: environ[f"HTTP_{name.upper().replace('-', '_')}"]
                    for name in KEPT
                    if f"HTTP_{name.upper().replace('-', '_')}" in environ
                }
                if environ.get("CONTENT_TYPE"):
                    headers["content-type"] = environ["CONTENT_TYPE"]
                query = environ.get("QUERY_STRING")
                path = environ.get("PATH_INFO", "/") + (f"?{query}" if query else "")
                journal.append(environ["REQUEST_METHOD"], path, headers, body)
        start_response(answered["status"], answered["headers"], answered.get("exc_info"))
        return [chunks]

    return middleware


def journaled_moto_server(host: str, port: int, journal: Journal) -> Any:
    """moto's threaded server with the journal in front of its app."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer  # noqa: PLC0415
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
        DomainDispatcherApplication,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # noqa: PLC0415

    class Journaled(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = journaling(DomainDispatcherApplication(create_backend_app), journal)
            self._server = make_server(self._ip_address, self._port, app, True)
            self._server_ready_event.set()
            self._server.serve_forever()

    return Journaled(ip_address=host, port=port, verbose=False)
