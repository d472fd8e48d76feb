"""The API from a terminal. Tables for people, ``--json`` / ``--output json`` (one JSON
document, or one JSON object per line for streams) for scripts, before or after the command.
``CONDUCTOR_URL`` and ``CONDUCTOR_KEY`` say which Conductor and which key; ``--url``/``--key``
override them. ``conductor completion bash`` prints a completion script."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from conductor_client import Conductor, ConductorError, __version__

Handler = Callable[[Conductor, argparse.Namespace, TextIO], Any]

# Columns of each resource's table: (header, how to read it from an item).
COLUMNS: dict[str, list[tuple[str, Callable[[dict[str, Any]], Any]]]] = {
    "schedule": [
        ("ID", lambda s: s["id"]),
        ("NAME", lambda s: s["name"]),
        ("EXPRESSION", lambda s: s["expression"]),
        ("ZONE", lambda s: s["timezone"]),
        ("ENABLED", lambda s: "yes" if s["enabled"] else "paused"),
        ("NEXT RUN", lambda s: (s.get("next_runs") or ["-"])[0]),
    ],
    "execution": [
        ("ID", lambda e: e["id"]),
        ("SCHEDULED FOR", lambda e: e["scheduled_for"]),
        ("TRIGGER", lambda e: e["trigger"]),
        ("STATUS", lambda e: e["status"]),
        ("CODE", lambda e: e.get("status_code") or "-"),
        ("RETRY JOB", lambda e: e.get("retry_job_id") or "-"),
    ],
    "retry": [
        ("ID", lambda j: j["id"]),
        ("SERVICE", lambda j: j["service"]),
        ("STATUS", lambda j: j["status"]),
        ("ATTEMPTS", lambda j: j["attempt_count"]),
        ("ERROR", lambda j: j["error"].get("type", "")),
        ("NEXT ATTEMPT", lambda j: j.get("next_attempt_at") or "-"),
    ],
    "dead_letter": [
        ("ID", lambda d: d["id"]),
        ("SOURCE", lambda d: d["source"]),
        ("SERVICE", lambda d: d["service"]),
        ("STATUS", lambda d: d["status"]),
        ("ERROR", lambda d: d["error"].get("type", "")),
        ("CREATED", lambda d: d["created_at"]),
    ],
    "webhook": [
        ("ID", lambda w: w["id"]),
        ("URL", lambda w: w["url"]),
        ("EVENTS", lambda w: ",".join(w["event_types"])),
        ("ENABLED", lambda w: "yes" if w["enabled"] else "disabled"),
    ],
    "event": [
        ("ID", lambda e: e["id"]),
        ("TYPE", lambda e: e["type"]),
        ("TIME", lambda e: e["timestamp"]),
        ("DATA", lambda e: _short(json.dumps(e.get("data", {}), sort_keys=True))),
    ],
    "key": [
        ("ID", lambda k: k["id"]),
        ("NAME", lambda k: k["name"]),
        ("ROLE", lambda k: k["role"]),
        ("CREATED", lambda k: k.get("created_at") or "-"),
    ],
    "delivery": [
        ("ID", lambda d: d["id"]),
        ("EVENT", lambda d: d["event_type"]),
        ("STATUS", lambda d: d["status"]),
        ("ATTEMPTS", lambda d: d.get("attempt_count", "-")),
        ("CREATED", lambda d: d.get("created_at") or "-"),
    ],
    "breaker": [
        ("SERVICE", lambda b: b["service"]),
        ("STATE", lambda b: b["state"]),
        ("FAILURES", lambda b: f"{b['window']['failures']}/{b['window']['size']}"),
        ("NEXT TRIAL", lambda b: b.get("next_trial_at") or "-"),
    ],
}


PLURAL = {
    "retry": "retry jobs",
    "dead_letter": "dead letters",
    "execution": "runs",
    "key": "API keys",
    "delivery": "deliveries",
}


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table(kind: str, items: Iterable[dict[str, Any]], out: TextIO) -> int:
    columns = COLUMNS[kind]
    rows = [[str(read(item)) for _, read in columns] for item in items]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, (h, _) in enumerate(columns)]
    print("  ".join(h.ljust(w) for (h, _), w in zip(columns, widths, strict=True)).rstrip(), file=out)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)
    if not rows:
        print(f"(no {PLURAL.get(kind, kind + 's')})", file=out)
    return len(rows)


def show(kind: str, result: Any, args: argparse.Namespace, out: TextIO) -> None:
    """A list as a table (or a JSON array), one object as a one-row table (or JSON)."""
    if args.json:
        items = list(result) if not isinstance(result, dict) else result
        json.dump(items, out, indent=2, sort_keys=True)
        print(file=out)
    elif isinstance(result, dict):
        table(kind, [result], out)
    else:
        table(kind, result, out)


def _target(args: argparse.Namespace) -> dict[str, Any]:
    if args.target:
        return json.loads(args.target)
    if not args.url_target:
        raise SystemExit("give --target-url URL or --target JSON")
    target: dict[str, Any] = {"type": "http", "method": args.method, "url": args.url_target}
    if args.body:
        target["body"] = json.loads(args.body)
    return target


def _policy(args: argparse.Namespace) -> dict[str, Any] | None:
    return {"max_attempts": args.max_attempts} if args.max_attempts else None


OVERLAP = ["skip", "allow", "buffer_one", "buffer_all"]

# --- commands ----------------------------------------------------------------------------------


def schedules_list(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("schedule", c.schedules.list(enabled=a.enabled, tag=a.tag, limit=a.limit), a, out)


def schedules_get(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("schedule", c.schedules.get(a.id), a, out)


def schedules_create(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    extra: dict[str, Any] = {
        k: v
        for k, v in {
            "pause_after_failures": a.pause_after_failures,
            "overlap_policy": a.overlap,
            "remaining_actions": a.remaining_actions,
            "action_after_completion": a.after_completion,
        }.items()
        if v is not None
    }
    if a.flexible_window is not None:
        extra["flexible_time_window"] = {"mode": "FLEXIBLE", "maximum_window_minutes": a.flexible_window}
    if a.keep_succeeded is not None or a.keep_failed is not None:
        extra["history_limits"] = {
            "succeeded": 1000 if a.keep_succeeded is None else a.keep_succeeded,
            "failed": 1000 if a.keep_failed is None else a.keep_failed,
        }
    show(
        "schedule",
        c.schedules.create(
            a.name, a.expression, _target(a), timezone=a.timezone, retry_policy=_policy(a), **extra
        ),
        a,
        out,
    )


def schedules_backfill(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show(
        "execution",
        c.schedules.backfill(a.id, a.start, a.end, overlap_policy=a.overlap)["executions"],
        a,
        out,
    )


def schedules_run(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("execution", c.schedules.run(a.id), a, out)


def schedules_pause(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    if len(a.id) == 1:
        show("schedule", c.schedules.pause(a.id[0], a.note), a, out)
    else:
        _batch_out(c.schedules.pause_many(a.id, a.note), a, out)


def schedules_resume(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    if len(a.id) == 1:
        show("schedule", c.schedules.resume(a.id[0]), a, out)
    else:
        _batch_out(c.schedules.resume_many(a.id), a, out)


def _batch_out(result: dict[str, Any], a: argparse.Namespace, out: TextIO) -> None:
    """A batch's per-item results: one line each, then the totals."""
    if a.json:
        print(json.dumps(result, indent=2, sort_keys=True), file=out)
        return
    for item in result["results"]:
        problem = f"  {item['error']['code']}: {item['error']['message']}" if item.get("error") else ""
        print(f"{item.get('id') or '-'}  {item['status']}{problem}", file=out)
    print(f"{result['succeeded']} ok, {result['failed']} failed", file=out)


def schedules_history(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("execution", c.schedules.history(a.id, limit=a.limit), a, out)


def schedules_delete(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    c.schedules.delete(a.id)
    print(json.dumps({"deleted": a.id}) if a.json else f"deleted {a.id}", file=out)


def retries_list(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("retry", c.retries.list(status=a.status, service=a.service, limit=a.limit), a, out)


def retries_get(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("retry", c.retries.get(a.id), a, out)


def retries_create(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    error = {"type": a.error_type, "message": a.error_message or ""}
    show(
        "retry",
        c.retries.create(
            a.service, _target(a), error, retry_policy=_policy(a), idempotency_key=a.idempotency_key
        ),
        a,
        out,
    )


def retries_resolve(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("retry", c.retries.resolve(a.id, a.note), a, out)


def dlq_list(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show(
        "dead_letter", c.dlq.list(status=a.status, source=a.source, service=a.service, limit=a.limit), a, out
    )


def dlq_get(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("dead_letter", c.dlq.get(a.id), a, out)


def dlq_replay(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("retry", c.dlq.replay(a.id), a, out)


def dlq_resolve(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("dead_letter", c.dlq.resolve(a.id, a.note), a, out)


def dlq_replay_matching(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    """Every open dead letter the filter matches, replayed 100 at a time (the batch route's
    size); ``--dry-run`` only counts them."""
    ids = [
        d["id"]
        for d in c.dlq.list(
            status="open", source=a.source, service=a.service, fingerprint=a.fingerprint, limit=a.limit
        )
    ]
    if a.dry_run:
        print(json.dumps({"matched": len(ids)}) if a.json else f"{len(ids)} would be replayed", file=out)
        return
    results: list[dict[str, Any]] = []
    for i in range(0, len(ids), 100):
        results += c.dlq.replay_many(ids[i : i + 100])["results"]
    ok = sum(1 for r in results if r["status"] == "ok")
    _batch_out({"results": results, "succeeded": ok, "failed": len(results) - ok}, a, out)


def breakers_list(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("breaker", c.breakers.list(limit=a.limit), a, out)


def breakers_get(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("breaker", c.breakers.get(a.service), a, out)


def breakers_command(action: str) -> Handler:
    def handler(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
        show("breaker", c.breakers.command(a.service, action), a, out)  # type: ignore[arg-type]

    return handler


def keys_list(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("key", c.api_keys.list(limit=a.limit), a, out)


def keys_create(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    created = c.api_keys.create(a.name, a.role)
    if a.json:
        show("key", created, a, out)
        return
    table("key", [created], out)
    print(f"key (shown this once): {created['key']}", file=out)


def keys_revoke(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    c.api_keys.revoke(a.id)
    print(json.dumps({"revoked": a.id}) if a.json else f"revoked {a.id}", file=out)


def webhooks_list(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("webhook", c.webhooks.list(limit=a.limit), a, out)


def webhooks_create(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    created = c.webhooks.create(a.url_endpoint, a.events, description=a.description)
    if a.json:
        show("webhook", created, a, out)
        return
    table("webhook", [created], out)
    print(f"secret (shown this once): {created['secret']}", file=out)


def webhooks_delete(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    c.webhooks.delete(a.id)
    print(json.dumps({"deleted": a.id}) if a.json else f"deleted {a.id}", file=out)


def webhooks_rotate_secret(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    rotated = c.webhooks.rotate_secret(a.id)
    if a.json:
        print(json.dumps(rotated, indent=2, sort_keys=True), file=out)
        return
    print(f"new secret (shown this once): {rotated['secret']}", file=out)


def webhooks_deliveries(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show(
        "delivery",
        c.webhooks.deliveries(a.id, status=a.status, event_type=a.event_type, limit=a.limit),
        a,
        out,
    )


def webhooks_redeliver(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("delivery", c.webhooks.redeliver(a.delivery_id), a, out)


def webhooks_recover(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    print(json.dumps(c.webhooks.recover(a.id, a.since), indent=2, sort_keys=True), file=out)


def webhooks_test(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    result = c.webhooks.test(a.id)
    print(json.dumps(result, indent=2, sort_keys=True), file=out)


def events_list(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("event", c.events.list(type=a.type, limit=a.limit), a, out)


def events_publish(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    show("event", c.events.publish(a.type, json.loads(a.data) if a.data else {}), a, out)


def events_tail(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    """Print events as they happen until Ctrl-C (or ``--count`` events)."""

    async def tail() -> None:
        printed = 0
        async for event in c.subscribe(a.type or ["*"], after=a.after):
            if a.json:
                print(json.dumps(event, sort_keys=True), file=out, flush=True)
            else:
                data = _short(json.dumps(event.get("data", {}), sort_keys=True), 100)
                print(
                    f"{event['timestamp']}  {event['type']:<28} {event['id']}  {data}", file=out, flush=True
                )
            printed += 1
            if a.count and printed >= a.count:
                return

    if not a.json:
        print(f"Listening for {', '.join(a.type or ['*'])} (Ctrl-C to stop)", file=out, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(tail())


def listen(c: Conductor, a: argparse.Namespace, out: TextIO) -> None:
    from conductor_client.listen import Listener  # noqa: PLC0415

    listener = Listener(
        c,
        host=a.host,
        port=a.port,
        events=a.events or ["*"],
        secret=a.secret,
        public_url=a.public_url,
        keep=a.keep,
        as_json=a.json,
        out=out,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    listener.start()
    try:
        while not stop.wait(0.5):
            if a.count and listener.received >= a.count:
                break
    finally:
        listener.stop()


# --- the parser ----------------------------------------------------------------------------------


def _limit(p: argparse.ArgumentParser, default: int = 50) -> None:
    p.add_argument("--limit", type=int, default=default, help=f"at most this many (default {default})")


def _target_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target-url", dest="url_target", help="an HTTP target: the URL to call")
    p.add_argument("--method", default="POST", choices=["GET", "POST", "PUT", "PATCH", "DELETE"])
    p.add_argument("--body", help="the HTTP target's JSON body")
    p.add_argument("--target", help='any target as JSON, e.g. \'{"type": "sqs", ...}\'')
    p.add_argument("--max-attempts", type=int, help="retry policy: attempts in all")


def _global_options(p: argparse.ArgumentParser, top: bool) -> None:
    """``--url``, ``--key`` and the output options, before the command or after it (``conductor
    schedules list --json``, as the AWS and Temporal CLIs take them). After it they default to
    SUPPRESS, so an option given before the command is not reset by the command's parser."""
    default = None if top else argparse.SUPPRESS
    p.add_argument(
        "--url", default=default, help="Conductor's API (env CONDUCTOR_URL, default http://127.0.0.1:8000)"
    )
    p.add_argument("--key", default=default, help="an API key cnd_... (env CONDUCTOR_KEY)")
    p.add_argument(
        "--json",
        dest="output",
        action="store_const",
        const="json",
        default=default,
        help="JSON output for scripts (the same as --output json)",
    )
    p.add_argument(
        "-o",
        "--output",
        choices=["table", "json"],
        default=default,
        help="table (for people, the default) or json",
    )


def _command(group: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
    p = group.add_parser(name, help=help_text, description=help_text)
    p.set_defaults(handler=handler)
    _global_options(p, top=False)
    return p


def _add_schedules(groups: Any) -> None:
    sch = groups.add_parser("schedules", help="cron, rate and one-time schedules")
    sub = sch.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = _command(sub, "list", schedules_list, "schedules, newest first")
    state = p.add_mutually_exclusive_group()
    state.add_argument("--enabled", action="store_const", const=True, default=None)
    state.add_argument("--paused", dest="enabled", action="store_const", const=False)
    p.add_argument("--tag")
    _limit(p)
    _command(sub, "get", schedules_get, "one schedule").add_argument("id")
    p = _command(sub, "create", schedules_create, "create a schedule")
    p.add_argument("--name", required=True)
    p.add_argument(
        "--expression", required=True, help="cron(0 9 * * 1-5) | rate(5 minutes) | at(2026-12-01T09:00:00)"
    )
    p.add_argument("--timezone", default="UTC", help="an IANA zone, e.g. Europe/Berlin")
    p.add_argument("--pause-after-failures", type=int, help="pause it after this many failed runs in a row")
    p.add_argument("--overlap", choices=OVERLAP, help="when a run is due while one still runs (default skip)")
    p.add_argument(
        "--flexible-window",
        type=int,
        metavar="MINUTES",
        help="each run starts within this many minutes of its time",
    )
    p.add_argument(
        "--remaining-actions",
        type=int,
        metavar="N",
        help="start N runs, then pause (Temporal's limited actions)",
    )
    p.add_argument(
        "--after-completion",
        choices=["none", "delete"],
        help="delete: the schedule deletes itself after its last run",
    )
    p.add_argument("--keep-succeeded", type=int, metavar="N", help="keep the newest N successes")
    p.add_argument("--keep-failed", type=int, metavar="N", help="keep the newest N failures")
    _target_options(p)
    _command(sub, "run", schedules_run, "run a schedule now").add_argument("id")
    p = _command(sub, "backfill", schedules_backfill, "run the times of a past range now")
    p.add_argument("id")
    p.add_argument("--from", dest="start", required=True, help="ISO 8601, e.g. 2026-12-01T00:00Z")
    p.add_argument("--to", dest="end", required=True)
    p.add_argument("--overlap", choices=OVERLAP, help="for these runs only (else the schedule's)")
    p = _command(sub, "pause", schedules_pause, "pause schedules (up to 100 ids at once)")
    p.add_argument("id", nargs="+")
    p.add_argument("--note")
    _command(sub, "resume", schedules_resume, "resume paused schedules (up to 100 ids)").add_argument(
        "id", nargs="+"
    )
    p = _command(sub, "history", schedules_history, "a schedule's runs, newest first")
    p.add_argument("id")
    _limit(p, 20)
    _command(sub, "delete", schedules_delete, "delete a schedule").add_argument("id")


def _add_recovery(groups: Any) -> None:
    rty = groups.add_parser("retries", help="failed operations being retried")
    sub = rty.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = _command(sub, "list", retries_list, "retry jobs, newest first")
    p.add_argument("--status", choices=["scheduled", "running", "succeeded", "dead_lettered", "resolved"])
    p.add_argument("--service")
    _limit(p)
    _command(sub, "get", retries_get, "one retry job").add_argument("id")
    p = _command(sub, "create", retries_create, "hand a failed operation over for retrying")
    p.add_argument("--service", required=True, help="the downstream service (its breaker)")
    p.add_argument("--error-type", required=True, help="what failed, e.g. Timeout")
    p.add_argument("--error-message")
    p.add_argument("--idempotency-key")
    _target_options(p)
    p = _command(sub, "resolve", retries_resolve, "resolve a retry job by hand")
    p.add_argument("id")
    p.add_argument("--note")

    dlq = groups.add_parser("dlq", help="the dead-letter queue")
    sub = dlq.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = _command(sub, "list", dlq_list, "dead letters, newest first")
    p.add_argument("--status", default="open", choices=["open", "resolved", "replayed"])
    p.add_argument("--source")
    p.add_argument("--service")
    _limit(p)
    _command(sub, "get", dlq_get, "one dead letter").add_argument("id")
    _command(sub, "replay", dlq_replay, "re-run as a new retry job").add_argument("id")
    p = _command(
        sub,
        "replay-matching",
        dlq_replay_matching,
        "replay every open dead letter a filter matches, 100 at a time",
    )
    p.add_argument("--source")
    p.add_argument("--service")
    p.add_argument("--fingerprint", help="one group (as the console's group view names it)")
    p.add_argument("--dry-run", action="store_true", help="only count what matches")
    _limit(p, 1000)
    p = _command(sub, "resolve", dlq_resolve, "resolve by hand")
    p.add_argument("id")
    p.add_argument("--note")

    brk = groups.add_parser("breakers", help="circuit breakers")
    sub = brk.add_subparsers(dest="action", required=True, metavar="ACTION")
    _limit(_command(sub, "list", breakers_list, "every service's breaker"))
    _command(sub, "get", breakers_get, "one service's breaker").add_argument("service")
    for action, words in (
        ("reset", "closed, its window emptied"),
        ("force_open", "open until reset (holds the service's retry jobs)"),
        ("force_close", "closed until reset (lets every call through)"),
    ):
        _command(
            sub, action.replace("_", "-"), breakers_command(action), f"set a breaker {words}"
        ).add_argument("service")

    keys = groups.add_parser("keys", help="API keys (admin)")
    sub = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    _limit(_command(sub, "list", keys_list, "API keys, newest first"))
    p = _command(sub, "create", keys_create, "create a key (prints its secret once)")
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, choices=["admin", "operator", "viewer"])
    _command(sub, "revoke", keys_revoke, "revoke a key, at once").add_argument("id")


def _add_webhooks_and_events(groups: Any) -> None:
    whk = groups.add_parser("webhooks", help="webhook endpoints")
    sub = whk.add_subparsers(dest="action", required=True, metavar="ACTION")
    _limit(_command(sub, "list", webhooks_list, "endpoints, newest first"))
    p = _command(sub, "create", webhooks_create, "subscribe a URL (prints its secret once)")
    p.add_argument("url_endpoint", metavar="URL")
    p.add_argument("--events", nargs="+", default=["*"], help="types or patterns (schedule.*)")
    p.add_argument("--description")
    _command(sub, "delete", webhooks_delete, "delete an endpoint").add_argument("id")
    _command(sub, "test", webhooks_test, "send a webhook.test event").add_argument("id")
    _command(
        sub, "rotate-secret", webhooks_rotate_secret, "a new signing secret (prints it once)"
    ).add_argument("id")
    p = _command(sub, "deliveries", webhooks_deliveries, "an endpoint's deliveries, newest first")
    p.add_argument("id")
    p.add_argument("--status", choices=["pending", "delivered", "failed"])
    p.add_argument("--event-type")
    _limit(p)
    _command(sub, "redeliver", webhooks_redeliver, "send one delivery again").add_argument("delivery_id")
    p = _command(sub, "recover", webhooks_recover, "send again every failed delivery since a time")
    p.add_argument("id")
    p.add_argument("--since", required=True, help="ISO 8601, e.g. 2026-12-01T00:00Z")

    evt = groups.add_parser("events", help="the event timeline and live stream")
    sub = evt.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = _command(sub, "list", events_list, "events, newest first")
    p.add_argument("--type")
    _limit(p, 20)
    p = _command(sub, "publish", events_publish, "publish a custom.* event")
    p.add_argument("type")
    p.add_argument("--data", help="the event's data as JSON")
    p = _command(sub, "tail", events_tail, "print events live (WebSocket) until Ctrl-C")
    p.add_argument("--type", nargs="+", help="types or patterns, e.g. schedule.* (default *)")
    p.add_argument("--after", help="replay from after this event id first")
    p.add_argument("--count", type=int, help="stop after this many events")

    p = groups.add_parser(
        "listen",
        help="a local webhook receiver that verifies signatures",
        description="Receive Conductor's webhooks on this machine: creates an "
        "endpoint for the local URL (deleted on exit unless --keep), verifies "
        "each delivery's Standard Webhooks signature and prints it.",
    )
    p.set_defaults(handler=listen)
    _global_options(p, top=False)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787, help="0: any free port")
    p.add_argument("--events", nargs="+", help="types or patterns (default *)")
    p.add_argument("--secret", help="verify with this whsec_... and create no endpoint")
    p.add_argument(
        "--public-url", help="the URL Conductor should call (e.g. a tunnel's), if not http://HOST:PORT/"
    )
    p.add_argument("--keep", action="store_true", help="keep the endpoint after exit")
    p.add_argument("--count", type=int, help="stop after this many deliveries")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="conductor", description=__doc__)
    parser.add_argument("--version", action="version", version=f"conductor {__version__}")
    _global_options(parser, top=True)
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    _add_schedules(groups)
    _add_recovery(groups)
    _add_webhooks_and_events(groups)
    p = groups.add_parser(
        "completion",
        help="print a shell completion script",
        description="Tab completion of commands and options: "
        "`source <(conductor completion bash)` (or zsh) in your shell's rc file.",
    )
    p.add_argument("shell", choices=["bash", "zsh"])
    p.set_defaults(handler=None)
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    args.json = args.output == "json"
    if args.group == "completion":
        from conductor_client.completion import script  # noqa: PLC0415

        print(script(parser, args.shell), file=out)
        return 0
    try:
        client = Conductor(args.url, args.key)
        args.handler(client, args, out)
    except ConductorError as exc:
        if args.json:
            print(
                json.dumps(
                    {
                        "error": {
                            "status": exc.status,
                            "code": exc.code,
                            "message": exc.message,
                            "details": exc.details,
                        }
                    }
                ),
                file=sys.stderr,
            )
        else:
            print(f"error: {exc}", file=sys.stderr)
            for detail in exc.details:
                print(f"  {detail.get('field')}: {detail.get('problem')}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `conductor events list | head`
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
