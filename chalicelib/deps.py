"""The composition root: builds each service once per container, on first use.

Handlers call these getters; imports happen inside them so that a cold start pays only for what
the invoked handler uses (pynamodb and boto3 are not imported by ``import app``).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib import aws, reactions
from chalicelib.config import get_settings
from chalicelib.domain.timeutil import utcnow

if TYPE_CHECKING:  # pragma: no cover
    from chalicelib.domain.ssrf import OutboundGuard
    from chalicelib.services.api_keys import ApiKeyService
    from chalicelib.services.attempts import AttemptEngine
    from chalicelib.services.auth import Authenticator
    from chalicelib.services.breakers import BreakerService
    from chalicelib.services.dead_letters import DeadLetterService
    from chalicelib.services.deliveries import Deliveries
    from chalicelib.services.events import EventBus
    from chalicelib.services.fanout import FanOut
    from chalicelib.services.health import HealthChecker
    from chalicelib.services.metrics import MetricsService
    from chalicelib.services.ratelimits import RateLimiter
    from chalicelib.services.realtime import Realtime
    from chalicelib.services.retries import RetryService
    from chalicelib.services.runs import RunExecutor
    from chalicelib.services.scheduler import Scheduler
    from chalicelib.services.schedules import ScheduleService
    from chalicelib.services.targets import TargetQueues, TargetRunner
    from chalicelib.services.triage import Triage
    from chalicelib.services.webhooks import WebhookEndpoints
    from chalicelib.store.metrics import MetricsStore
    from chalicelib.store.queues import Queue
    from chalicelib.store.schedules import ExecutionStore, ScheduleStore
    from chalicelib.store.webhooks import WebhookStore


#: this module, as reactions reach the services (reactions.py imports no service)
_SERVICES = sys.modules[__name__]


def clock() -> datetime:
    """The wall clock; tests replace it to move time (sunsets, buckets)."""
    return utcnow()


@functools.cache
def cursor_secret() -> str:
    """The key of cursor MACs, read once per container (``store/secrets.py`` says from where)."""
    from chalicelib.store.secrets import cursor_secret as read  # noqa: PLC0415

    return read(get_settings(), lambda: aws.client("secretsmanager"))


@functools.cache
def outbound_guard() -> OutboundGuard:
    """The one SSRF policy for every outbound HTTP request (webhooks, targets)."""
    from chalicelib.domain import ssrf  # noqa: PLC0415

    settings = get_settings()
    deny = ssrf.endpoint_of(settings.endpoint_url) | ssrf.endpoint_of(settings.websocket_endpoint)
    return ssrf.OutboundGuard(
        ssrf.parse_networks(settings.outbound_allow_networks),
        require_https=settings.stage == "prod",
        deny=frozenset(deny),
    )


@functools.cache
def queue_url(logical: str) -> str:
    """The URL of a configured queue (one GetQueueUrl per container and queue)."""
    name = get_settings().queues[logical]
    return aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


@functools.cache
def event_store() -> Any:
    """The timeline's store (one per container: the bus writes it, the fan-out settles it)."""
    from chalicelib.store.events import EventStore  # noqa: PLC0415

    return EventStore()


@functools.cache
def event_bus() -> EventBus:
    from chalicelib.services.events import EventBus  # noqa: PLC0415

    return EventBus(
        event_store(),
        aws.lazy_client("sqs"),
        lambda: queue_url("events"),
        ttl_days=get_settings().event_ttl_days,
        clock=lambda: clock(),
    )


def _management_client(endpoint: str) -> Any:
    return aws.client("apigatewaymanagementapi", endpoint_url=endpoint)


@functools.cache
def realtime() -> Realtime:
    from chalicelib.services.realtime import Realtime  # noqa: PLC0415
    from chalicelib.store.connections import ConnectionStore  # noqa: PLC0415

    return Realtime(ConnectionStore(), _management_client, clock=lambda: clock(), timeline=event_bus)


@functools.cache
def health() -> HealthChecker:
    from chalicelib.services.health import HealthChecker  # noqa: PLC0415
    from chalicelib.store.health import HealthStateStore  # noqa: PLC0415

    settings = get_settings()
    return HealthChecker(
        aws.client("dynamodb"),
        aws.client("sqs"),
        settings.tables,
        settings.queues,
        state=HealthStateStore(),
        publish=lambda t, d: event_bus().publish(t, d),
        clock=lambda: clock(),
    )


@functools.cache
def api_keys() -> ApiKeyService:
    from chalicelib.services.api_keys import ApiKeyService  # noqa: PLC0415
    from chalicelib.store.api_keys import ApiKeyStore  # noqa: PLC0415

    return ApiKeyService(
        ApiKeyStore(),
        clock=lambda: clock(),
        publish=lambda t, d: event_bus().publish(t, d),
        on_revoked=reactions.hook("api_key.revoked", _SERVICES),
    )


@functools.cache
def authenticator() -> Authenticator:
    from chalicelib.services.auth import Authenticator  # noqa: PLC0415
    from chalicelib.store.api_keys import ApiKeyStore  # noqa: PLC0415
    from chalicelib.store.tickets import TicketStore  # noqa: PLC0415

    return Authenticator(ApiKeyStore(), TicketStore(), clock=lambda: clock())


@functools.cache
def rate_limiter() -> RateLimiter:
    from chalicelib.services.ratelimits import RateLimiter, parse_policies  # noqa: PLC0415
    from chalicelib.store.rate_limits import DynamoBucketStore  # noqa: PLC0415

    return RateLimiter(
        DynamoBucketStore(),
        parse_policies(get_settings().rate_limits),
        clock_ms=lambda: int(clock().timestamp() * 1000),
    )


@functools.cache
def breakers() -> BreakerService:
    from chalicelib.services.breakers import BreakerService, parse_settings  # noqa: PLC0415
    from chalicelib.store.breakers import BreakerStore  # noqa: PLC0415

    return BreakerService(
        BreakerStore(),
        parse_settings(get_settings().breakers),
        publish=lambda t, d: event_bus().publish(t, d),
        clock=lambda: clock(),
        metrics=metrics(),
        on_closed=reactions.hook("breaker.closed", _SERVICES),
    )


@functools.cache
def dead_letters() -> DeadLetterService:
    from chalicelib.services.dead_letters import DeadLetterService  # noqa: PLC0415
    from chalicelib.store.dead_letters import DeadLetterStore  # noqa: PLC0415

    return DeadLetterService(
        DeadLetterStore(),
        publish=lambda t, d: event_bus().publish(t, d),
        clock=lambda: clock(),
        metrics=metrics(),
        on_resolved=reactions.hook("dead_letter.resolved", _SERVICES),
    )


@functools.cache
def metrics_store() -> MetricsStore:
    from chalicelib.store.metrics import MetricsStore  # noqa: PLC0415

    return MetricsStore(aws.client("dynamodb"), get_settings().tables["metrics"])


#: which lazily built services exist in this container (a cold handler builds nothing more)
_built = {"metrics": False}


@functools.cache
def metrics() -> MetricsService:
    from chalicelib.services.metrics import MetricsService  # noqa: PLC0415

    _built["metrics"] = True
    settings = get_settings()
    return MetricsService(
        metrics_store(),
        clock=lambda: clock(),
        stage=settings.stage,
        emf_line=_stdout_line if settings.emf_enabled else None,
    )


def _stdout_line(line: str) -> None:
    """An EMF line where Lambda's log agent reads it: stdout, one line, whole."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@functools.cache
def target_runner() -> TargetRunner:
    from chalicelib.services.outbound import guarded_session  # noqa: PLC0415
    from chalicelib.services.targets import TargetRunner  # noqa: PLC0415
    from chalicelib.tracing import init_tracing  # noqa: PLC0415

    init_tracing()  # requests is patched before its session exists
    guard = outbound_guard()
    return TargetRunner(
        guarded_session(guard),
        aws.lazy_client("sqs"),
        lambda t, d: event_bus().publish(t, d),
        clock=lambda: clock(),
        queues=target_queues(),
        guard=guard,
    )


@functools.cache
def target_queues() -> TargetQueues:
    """Which queues sqs targets may name: never Conductor's own; in AWS only the allow-list."""
    from chalicelib.services.targets import TargetQueues  # noqa: PLC0415

    settings = get_settings()
    return TargetQueues(
        own=frozenset(settings.queues.values()),
        allowed=settings.sqs_target_queues,
        deployed=settings.deployed,
    )


def own_queue(name: str) -> Queue:
    """One of Conductor's own queues (``retries``, ``executions``, ``webhook_deliveries``)."""
    from chalicelib.store.queues import Queue  # noqa: PLC0415

    return Queue(aws.lazy_client("sqs"), lambda: queue_url(name), name.replace("_", "-"))


@functools.cache
def retries() -> RetryService:
    from chalicelib.services.retries import RetryService  # noqa: PLC0415
    from chalicelib.store.idempotency import IdempotencyStore  # noqa: PLC0415
    from chalicelib.store.retry_jobs import RetryJobStore  # noqa: PLC0415

    return RetryService(
        RetryJobStore(),
        IdempotencyStore(),
        dead_letters(),
        breakers(),
        target_runner(),
        metrics(),
        attempt_engine("retries"),
        event_bus,
        clock=lambda: clock(),
        on_finished=reactions.hook("retry_job.finished", _SERVICES),
    )


@functools.cache
def schedule_stores() -> tuple[ScheduleStore, ExecutionStore]:
    from chalicelib.store.schedules import ExecutionStore, ScheduleStore  # noqa: PLC0415

    return ScheduleStore(), ExecutionStore()


@functools.cache
def schedules() -> ScheduleService:
    from chalicelib.services.schedules import ScheduleService  # noqa: PLC0415

    # the runner (a requests session: ~20 ms of imports) is made when a target is validated,
    # not for every schedule read
    return ScheduleService(
        *schedule_stores(),
        target_runner,
        lambda t, d: event_bus().publish(t, d),
        history_days=get_settings().execution_ttl_days,
        clock=lambda: clock(),
    )


@functools.cache
def scheduler() -> Scheduler:
    from chalicelib.services.scheduler import Scheduler  # noqa: PLC0415

    return Scheduler(
        schedules(),
        *schedule_stores(),
        own_queue("executions"),
        own_queue("dispatch"),
        history_days=get_settings().execution_ttl_days,
        clock=lambda: clock(),
        look_ahead=timedelta(seconds=get_settings().scheduler_lookahead_seconds),
    )


@functools.cache
def runs() -> RunExecutor:
    from chalicelib.services.runs import RunExecutor  # noqa: PLC0415

    return RunExecutor(
        schedules(),
        *schedule_stores(),
        target_runner(),
        retries,
        attempt_engine("executions"),
        lambda t, d: event_bus().publish(t, d),
        clock=lambda: clock(),
        metrics=metrics(),
    )


@functools.cache
def webhook_store() -> WebhookStore:
    from chalicelib.store.webhooks import WebhookStore  # noqa: PLC0415

    return WebhookStore()


@functools.cache
def triage() -> Triage:
    from chalicelib.services.triage import Triage  # noqa: PLC0415

    return Triage(metrics(), schedules(), webhook_store(), event_bus, clock=lambda: clock())


@functools.cache
def webhooks() -> WebhookEndpoints:
    from chalicelib.services.webhooks import WebhookEndpoints  # noqa: PLC0415

    return WebhookEndpoints(
        webhook_store(), lambda t, d: event_bus().publish(t, d), guard=outbound_guard(), clock=lambda: clock()
    )


@functools.cache
def fan_out() -> FanOut:
    from chalicelib.services.fanout import FanOut  # noqa: PLC0415
    from chalicelib.store.subscriptions import SubscriptionIndex  # noqa: PLC0415

    return FanOut(
        SubscriptionIndex(), deliveries, realtime, clock=lambda: clock(), fanned_out=event_store().fanned_out
    )


def attempt_engine(queue: str) -> AttemptEngine:
    """The attempt loop over one of Conductor's own queues."""
    from chalicelib.services.attempts import AttemptEngine  # noqa: PLC0415

    return AttemptEngine(own_queue(queue), clock=lambda: clock())


@functools.cache
def deliveries() -> Deliveries:
    from chalicelib.services.deliveries import Deliveries  # noqa: PLC0415
    from chalicelib.services.outbound import guarded_session  # noqa: PLC0415
    from chalicelib.store.webhooks import DeliveryStore  # noqa: PLC0415
    from chalicelib.tracing import init_tracing  # noqa: PLC0415

    init_tracing()
    return Deliveries(
        DeliveryStore(),
        webhooks(),
        webhook_store(),
        guarded_session(outbound_guard()),
        attempt_engine("webhook_deliveries"),
        lambda t, d: event_bus().publish(t, d),
        dead_letters(),
        rate_limiter(),
        metrics=metrics(),
        clock=lambda: clock(),
        disable_after=get_settings().webhook_disable_after,
    )


@functools.cache
def reconciler() -> Any:
    """Finds overdue retry jobs, deliveries and runs and puts them back on their way."""
    from chalicelib.services import reconciler as r  # noqa: PLC0415

    return r.Reconciler(
        [
            r.Kind("retry_job", retries().jobs, r.retry_job_repair, own_queue("retries")),
            r.Kind("delivery", deliveries().store, r.delivery_repair, own_queue("webhook_deliveries")),
            r.Kind("run", schedule_stores()[1], r.run_repair, own_queue("executions")),
            r.Kind("event", event_store(), r.event_repair, None, send=event_bus().resend),
        ],
        lambda t, d: event_bus().publish(t, d),
        metrics=metrics(),
        clock=lambda: clock(),
        grace_seconds=get_settings().recover_grace_seconds,
    )


def after_invocation(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware for every handler: once it answered, write the container's pending
    metrics if they are due (only when metrics were used: a cold handler builds nothing)."""
    try:
        return get_response(event)
    finally:
        if _built["metrics"]:
            metrics().flush_if_due()


def with_outbox(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware for event handlers (SQS batches, the tick): the events they publish
    are written together when they end, also when one failed (its batch then returns to SQS)."""
    from chalicelib import outbox  # noqa: PLC0415

    with outbox.collecting() as box:
        try:
            return get_response(event)
        finally:
            if box.events:
                event_bus().write(box)


def idempotency_claim(key: str) -> bool:
    """Claim ``key`` for a day; False if it was claimed already (work done once)."""

    from chalicelib.store.idempotency import IdempotencyStore  # noqa: PLC0415

    return IdempotencyStore().once(key, clock(), timedelta(days=1))


def reset() -> None:
    """Forget every service and client (tests and the local runtime switch environments)."""
    _built["metrics"] = False
    for getter in (
        cursor_secret,
        outbound_guard,
        target_queues,
        queue_url,
        event_store,
        event_bus,
        realtime,
        health,
        api_keys,
        authenticator,
        rate_limiter,
        breakers,
        dead_letters,
        metrics_store,
        metrics,
        target_runner,
        retries,
        schedule_stores,
        schedules,
        scheduler,
        runs,
        webhook_store,
        triage,
        fan_out,
        webhooks,
        deliveries,
        reconciler,
    ):
        getter.cache_clear()
    aws.reset()
    from chalicelib.store.base import unbind_all  # noqa: PLC0415

    unbind_all()
