"""``python -m devserver`` (what `make run` runs): Conductor locally, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time

from devserver.runtime import LocalRuntime, RuntimeOptions


def parse_args(argv: list[str] | None = None) -> RuntimeOptions:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m devserver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        default=int(env.get("CONDUCTOR_PORT", "8000")),
        help="HTTP API port (env CONDUCTOR_PORT, default 8000)",
    )
    parser.add_argument(
        "--ws-port",
        type=int,
        default=int(env.get("CONDUCTOR_WS_PORT", "8001")),
        help="WebSocket gateway port (env CONDUCTOR_WS_PORT, default 8001)",
    )
    parser.add_argument(
        "--moto-port",
        type=int,
        default=int(env.get("CONDUCTOR_MOTO_PORT", "0")),
        help="moto server port (env CONDUCTOR_MOTO_PORT, default: a free one)",
    )
    parser.add_argument("--stage", default="dev", help="stage whose configuration to use")
    parser.add_argument(
        "--redelivery-seconds",
        type=int,
        default=2,
        help="how soon a batch a handler failed is received again",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="fill Conductor with demo data (schedules, webhooks, retries, a "
        "dead letter, an open breaker) driven by local receivers",
    )
    parser.add_argument(
        "--data",
        metavar="DIR",
        default=env.get("CONDUCTOR_DATA") or None,
        help="keep tables, queued messages and the admin key in DIR across "
        "restarts (env CONDUCTOR_DATA; default: in memory only)",
    )
    parser.add_argument(
        "--faults",
        metavar="SPEC",
        default=env.get("CONDUCTOR_FAULTS") or None,
        help="run behind the fault proxy: a share of DynamoDB and SQS calls "
        "throttled, failed, reset, answered late or with the answer lost "
        "('0.05', or 'rate=0.2,seed=7,kinds=lost+throttle'; env "
        "CONDUCTOR_FAULTS). For trying Conductor's recovery, never for use",
    )
    args = parser.parse_args(argv)
    if args.faults:
        from devserver.faults import parse_spec  # noqa: PLC0415

        try:
            parse_spec(args.faults)
        except ValueError as exc:
            parser.error(f"--faults: {exc}")
    return RuntimeOptions(
        host=args.host,
        port=args.port,
        ws_port=args.ws_port,
        moto_port=args.moto_port,
        stage=args.stage,
        admin_key=env.get("CONDUCTOR_ADMIN_KEY") or None,
        redelivery_seconds=args.redelivery_seconds,
        demo=args.demo,
        data_dir=args.data,
        faults=args.faults,
    )


def main(argv: list[str] | None = None) -> int:
    from chalicelib.logs import OneLineFormatter  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:  # exceptions in one line, never a stack trace
        handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    for noisy in ("werkzeug", "botocore", "urllib3", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    options = parse_args(argv)
    # The handler only sets a flag: setting a threading.Event the main thread waits on, from a
    # handler that runs on that thread while it holds the Event's lock, can deadlock.
    stopping: list[int] = []

    def stop_requested(signum: int, _frame: object) -> None:
        stopping.append(signum)
        # however long starting or stopping takes, the process is gone within STOP_SECONDS + 1
        # of the first signal: the kernel ends it (SIGALRM's default) if it is still here
        if len(stopping) == 1:
            signal.alarm(int(STOP_SECONDS) + 1)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop_requested)
    _stop_with_parent()
    runtime = LocalRuntime(options)
    try:
        runtime.start()
        if not stopping:
            print(runtime.banner(), flush=True)
        while not stopping:
            time.sleep(0.2)  # a signal ends the sleep at once
    finally:
        print("Stopping Conductor...", flush=True)
        _exit_within(STOP_SECONDS)
        runtime.stop()
    print("Stopped.", flush=True)
    # nothing is left to wait for: do not let a stray non-daemon thread hold the exit up
    logging.shutdown()
    os._exit(0)


#: From a stop signal to the process being gone, at most.
STOP_SECONDS = 8.0


def _exit_within(seconds: float) -> None:
    """Whatever hangs while stopping, the process is gone ``seconds`` after the signal."""

    def force() -> None:
        print(f"Stopped (forced after {seconds:.0f} s).", flush=True)
        os._exit(0)

    timer = threading.Timer(seconds, force)
    timer.daemon = True
    timer.start()


def _stop_with_parent() -> None:
    """Never outlive ``make run``: if make goes (killed, or its terminal closed), Linux sends
    this process a SIGTERM (a terminal's Ctrl-C and a SIGTERM to make reach it directly)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes  # noqa: PLC0415

    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent went before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
