"""``python -m devserver`` (what `make run` runs): Conductor locally, until Ctrl-C or SIGTERM."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from devserver.runtime import LocalRuntime, RuntimeOptions


def parse_args(argv: list[str] | None = None) -> RuntimeOptions:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m devserver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(env.get("CONDUCTOR_PORT", "8000")),
                        help="HTTP API port (env CONDUCTOR_PORT, default 8000)")
    parser.add_argument("--ws-port", type=int, default=int(env.get("CONDUCTOR_WS_PORT", "8001")),
                        help="WebSocket gateway port (env CONDUCTOR_WS_PORT, default 8001)")
    parser.add_argument("--moto-port", type=int, default=int(env.get("CONDUCTOR_MOTO_PORT", "0")),
                        help="moto server port (env CONDUCTOR_MOTO_PORT, default: a free one)")
    parser.add_argument("--stage", default="dev", help="stage whose configuration to use")
    parser.add_argument("--redelivery-seconds", type=int, default=2,
                        help="how soon a batch a handler failed is received again")
    args = parser.parse_args(argv)
    return RuntimeOptions(
        host=args.host, port=args.port, ws_port=args.ws_port, moto_port=args.moto_port,
        stage=args.stage, admin_key=env.get("CONDUCTOR_ADMIN_KEY") or None,
        redelivery_seconds=args.redelivery_seconds,
    )


def main(argv: list[str] | None = None) -> int:
    from chalicelib.logs import OneLineFormatter  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:  # exceptions in one line, never a stack trace
        handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    for noisy in ("werkzeug", "botocore", "urllib3", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    options = parse_args(argv)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    runtime = LocalRuntime(options)
    try:
        runtime.start()
        print(runtime.banner(), flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        print("Stopping Conductor...", flush=True)
        runtime.stop()
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
