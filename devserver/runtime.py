"""Conductor on one machine: moto's server, the resources from infra/, the HTTP API, a poller per
SQS handler, a ticker per schedule handler, and the WebSocket gateway. All in this one process,
in memory (kept in a data directory across restarts with ``--data``, see persist.py)."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("conductor.devserver")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def stage_environment(stage: str) -> dict[str, str]:
    """The environment variables `chalice deploy` gives the stage's Lambdas."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return dict(config["stages"][stage].get("environment_variables", {}))


@dataclass
class RuntimeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    ws_port: int = 8001
    moto_port: int = 0  # 0: any free port
    stage: str = "dev"
    admin_key: str | None = None
    redelivery_seconds: int = 2
    #: batches of one queue handled at once (Lambda scales out per queue)
    concurrency: int = 3
    #: fill Conductor with demo data once it is up (demo.py)
    demo: bool = False
    #: where tables, queued messages and the admin key are kept across restarts (persist.py)
    data_dir: str | None = None
    #: seconds between two snapshots of the data directory (and one on stop)
    snapshot_seconds: float = 60.0
    #: run behind the fault proxy (devserver/faults.py): "0.05", "rate=0.2,seed=7,kinds=lost"
    faults: str | None = None


@dataclass
class LocalRuntime:
    options: RuntimeOptions
    stop_event: threading.Event = field(default_factory=threading.Event)
    admin_key: str = ""
    _moto: Any = None
    _http: Any = None
    _http_thread: threading.Thread | None = None
    _gateway: Any = None
    _workers: list[threading.Thread] = field(default_factory=list)
    _snapshots: Any = None
    _demo: Any = None
    _faults: Any = None
    _journal: Any = None
    #: moto's own address: what stands in for AWS's side (the SQS triggers' receives) uses it,
    #: never the fault proxy that Conductor's calls go through
    moto_url: str = ""
    restored: dict[str, int] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.options.host}:{self.options.ws_port}"

    def _configure_environment(self, moto_url: str) -> None:
        """Point every AWS call at moto, before anything builds a client."""
        os.environ.update(stage_environment(self.options.stage))
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                "AWS_ENDPOINT_URL": moto_url,
                "CONDUCTOR_WS_ENDPOINT": f"http://{self.options.host}:{self.options.ws_port}",
                "CONDUCTOR_XRAY": "false",
                # local receivers are on loopback; AWS deployments allow no private network
                "CONDUCTOR_WEBHOOK_ALLOW_NETWORKS": os.environ.get(
                    "CONDUCTOR_WEBHOOK_ALLOW_NETWORKS", "127.0.0.0/8,::1/128"
                ),
            }
        )
        for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(variable, None)

    def start(self) -> None:
        from moto.server import ThreadedMotoServer  # noqa: PLC0415

        from devserver.motofix import serialize_dynamodb  # noqa: PLC0415

        serialize_dynamodb()
        host = self.options.host
        moto_port = self.options.moto_port or free_port(host)
        if self.options.data_dir:  # every acknowledged write on disk before its answer
            from devserver.journal import Journal, journaled_moto_server  # noqa: PLC0415

            self._journal = Journal(Path(self.options.data_dir) / "journal.jsonl")
            self._moto = journaled_moto_server(host, moto_port, self._journal)
        else:
            self._moto = ThreadedMotoServer(ip_address=host, port=moto_port, verbose=False)
        self._moto.start()
        self.moto_url = f"http://{host}:{moto_port}"
        endpoint = self.moto_url
        if self.options.faults:
            from devserver.faults import FaultProxy, parse_spec  # noqa: PLC0415

            plan = parse_spec(self.options.faults)
            rate, plan.rate = plan.rate, 0.0  # no faults until every part is up
            self._faults = FaultProxy(self.moto_url, plan).start()
            endpoint = self._faults.url
        self._configure_environment(endpoint)

        from chalicelib import aws, deps  # noqa: PLC0415
        from devserver import routing  # noqa: PLC0415
        from devserver.provision import provision  # noqa: PLC0415

        deps.reset()
        resources = provision(
            aws.client("dynamodb", endpoint_url=self.moto_url),
            aws.client("sqs", endpoint_url=self.moto_url),
            self.options.stage,
        )
        if self.options.data_dir:
            self._restore(resources)
        self.admin_key = self._bootstrap_admin_key()
        routing.install()
        import app as app_module  # noqa: PLC0415 - after the environment is set

        # the API last: once it answers (/v2/dashboard/health among it), every other part is
        # listening already
        self._start_workers(app_module.app)
        from devserver.gateway import WebSocketGateway  # noqa: PLC0415

        self._gateway = WebSocketGateway(app_module.app, host, self.options.ws_port)
        self._gateway.start()
        self._start_http(app_module.app)
        if self._faults is not None:
            self._faults.plan.set_rate(rate)
        if self._snapshots is not None:
            self._snapshots.every(self.options.snapshot_seconds, self.stop_event)
        if self.options.demo:
            from devserver import demo  # noqa: PLC0415

            self._demo = demo.start(self.api_url, self.admin_key, "127.0.0.1")

    def _restore(self, resources: dict[str, str]) -> None:
        """Load the data directory's snapshot into the new tables and queues."""
        from chalicelib import aws  # noqa: PLC0415
        from chalicelib.config import get_settings  # noqa: PLC0415
        from devserver.persist import Snapshots  # noqa: PLC0415
        from infra.template import load_template  # noqa: PLC0415

        kinds = {name: spec["Type"] for name, spec in load_template()["Resources"].items()}
        self._snapshots = Snapshots(
            Path(self.options.data_dir or ".conductor"),
            aws.client("dynamodb", endpoint_url=self.moto_url or None),
            aws.client("sqs", endpoint_url=self.moto_url or None),
            tables=[n for logical, n in resources.items() if kinds[logical] == "AWS::DynamoDB::Table"],
            queues=[n for logical, n in resources.items() if kinds[logical] == "AWS::SQS::Queue"],
            region=get_settings().region,
            journal=self._journal,
        )
        self.restored = self._snapshots.load()
        if self._journal is not None:  # what was acknowledged since that snapshot
            from devserver.journal import replay  # noqa: PLC0415

            entries = self._journal.entries()
            self._journal.recording = False
            try:
                host, port = self.moto_url.rsplit("//", 1)[1].split(":")
                self.restored["journaled"] = replay(entries, host, int(port))
            finally:
                self._journal.recording = True
            if entries:
                self._snapshots.save()  # the journal is in it now: start a new one
        # a snapshot of an older version lacks newer index keys: add them (idempotent)
        from chalicelib.store.backfill import backfill  # noqa: PLC0415

        backfill()

    def _bootstrap_admin_key(self) -> str:
        from chalicelib import deps  # noqa: PLC0415
        from chalicelib.domain.keys import KEY_PREFIX, generate_key  # noqa: PLC0415

        key = self.options.admin_key
        if not key and self.options.data_dir:
            from devserver.persist import admin_key  # noqa: PLC0415

            key = admin_key(Path(self.options.data_dir), generate_key)
        key = key or generate_key()
        if not key.startswith(KEY_PREFIX) or len(key) < 24:
            raise SystemExit(
                f"CONDUCTOR_ADMIN_KEY must start with {KEY_PREFIX!r} and be at least 24 characters long"
            )
        deps.api_keys().ensure(key, name="bootstrap admin", role="admin")
        return key

    def _start_http(self, app: Any) -> None:
        from chalice.config import Config  # noqa: PLC0415

        from devserver.http import local_server  # noqa: PLC0415

        disk = json.loads((ROOT / ".chalice" / "config.json").read_text())
        config = Config(chalice_stage=self.options.stage, config_from_disk=disk)
        self._http = local_server(app, config, self.options.host, self.options.port)
        self._http_thread = threading.Thread(target=self._http.server.serve_forever, name="http", daemon=True)
        self._http_thread.start()

    def _start_workers(self, app: Any) -> None:
        from chalicelib import aws  # noqa: PLC0415
        from chalicelib.config import get_settings  # noqa: PLC0415
        from devserver.lambdas import schedule_sources, sqs_sources  # noqa: PLC0415
        from devserver.workers import SqsPoller, Ticker  # noqa: PLC0415

        sqs = aws.client("sqs", endpoint_url=self.moto_url or None)  # as Lambda's triggers
        region = get_settings().region
        for source in sqs_sources(app):
            url = sqs.get_queue_url(QueueName=source.queue)["QueueUrl"]
            # as Lambda runs several batches of a queue at once: one slow batch (a receiver that
            # takes its time) does not hold up the others
            copies = 1 if source.queue.endswith("-dlq") else self.options.concurrency
            # moto's long poll notices a delayed message only once a second (SQS delivers it
            # when it is due): the runs' queue is polled short, so a run sent ahead starts on
            # its second here too
            wait = 0 if source.queue.endswith("-executions") else 1
            for copy in range(copies):
                self._workers.append(
                    SqsPoller(
                        app,
                        sqs,
                        source,
                        url,
                        region,
                        self.stop_event,
                        self.options.redelivery_seconds,
                        wait_seconds=wait,
                        copy=copy,
                    )
                )
        schedules = schedule_sources(app)
        if schedules:
            self._workers.append(Ticker(app, schedules, region, self.stop_event))
        for worker in self._workers:
            worker.start()

    def banner(self) -> str:
        if self.options.data_dir:
            where = (
                f"data is kept in {self.options.data_dir}: restored "
                f"{self.restored.get('items', 0)} items and "
                f"{self.restored.get('messages', 0)} queued messages, then "
                f"{self.restored.get('journaled', 0)} writes from the journal"
            )
        else:
            where = "data lives in memory and is gone when this stops; keep it with --data DIR"
        return "\n".join(
            [
                f"Conductor is running locally ({where}).",
                f"  API:        {self.api_url}/v2",
                f"  WebSocket:  {self.ws_url}",
                f"  Dashboard:  {self.api_url}/dashboard",
                f"  Admin key:  {self.admin_key}",
                f"  Moto (AWS): {os.environ.get('AWS_ENDPOINT_URL')}"
                + (
                    f" (the fault proxy: {self.options.faults}; moto at {self.moto_url})"
                    if self._faults is not None
                    else ""
                ),
                "Press Ctrl-C to stop.",
            ]
        )

    def stop(self) -> None:
        """Stop every part, newest first; safe to call twice."""
        self.stop_event.set()
        for worker in self._workers:
            worker.join(timeout=5)
        self._workers.clear()
        if self._demo is not None:
            self._demo.stop()
            self._demo = None
        if self._snapshots is not None and self._moto is not None:
            try:
                saved = self._snapshots.save()
                print(
                    f"Saved {saved['items']} items and {saved['messages']} queued messages "
                    f"to {self.options.data_dir}.",
                    flush=True,
                )
            except Exception:
                log.exception("could not save to %s", self.options.data_dir)
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server.server_close()
            self._http = None
        if self._faults is not None:
            self._faults.stop()
            self._faults = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
