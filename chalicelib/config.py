"""Settings, read from the environment only when first asked for.

Chalice puts a stage's ``environment_variables`` into each Lambda's environment; the local runtime
and the tests set the same variables. Nothing here runs at import time, so importing ``app`` stays
cheap and tests can change the environment before the first read.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Logical table name -> environment variable that holds its physical name.
TABLES: dict[str, str] = {
    "api_keys": "CONDUCTOR_TABLE_API_KEYS",
    "rate_limits": "CONDUCTOR_TABLE_RATE_LIMITS",
    "retry_jobs": "CONDUCTOR_TABLE_RETRY_JOBS",
    "attempts": "CONDUCTOR_TABLE_ATTEMPTS",
    "breakers": "CONDUCTOR_TABLE_BREAKERS",
    "dead_letters": "CONDUCTOR_TABLE_DEAD_LETTERS",
    "schedules": "CONDUCTOR_TABLE_SCHEDULES",
    "executions": "CONDUCTOR_TABLE_EXECUTIONS",
    "webhooks": "CONDUCTOR_TABLE_WEBHOOKS",
    "deliveries": "CONDUCTOR_TABLE_DELIVERIES",
    "connections": "CONDUCTOR_TABLE_CONNECTIONS",
    "subscriptions": "CONDUCTOR_TABLE_SUBSCRIPTIONS",
    "lists": "CONDUCTOR_TABLE_LISTS",
    "events": "CONDUCTOR_TABLE_EVENTS",
    "metrics": "CONDUCTOR_TABLE_METRICS",
    "idempotency": "CONDUCTOR_TABLE_IDEMPOTENCY",
}

#: Logical queue name -> environment variable that holds its physical name.
QUEUES: dict[str, str] = {
    "retries": "CONDUCTOR_QUEUE_RETRIES",
    "executions": "CONDUCTOR_QUEUE_EXECUTIONS",
    "dispatch": "CONDUCTOR_QUEUE_DISPATCH",
    "events": "CONDUCTOR_QUEUE_EVENTS",
    "webhook_deliveries": "CONDUCTOR_QUEUE_WEBHOOK_DELIVERIES",
}

DEFAULT_STAGE = "dev"


def default_name(stage: str, logical: str) -> str:
    """The physical name the infra template gives a table or queue: ``conductor-dev-retry-jobs``."""
    return f"conductor-{stage}-{logical.replace('_', '-')}"


def queue_name(logical: str) -> str:
    """A queue's name for ``@app.on_sqs_message`` decorators.

    Decorator arguments are evaluated whenever ``app`` is imported, by ``chalice package`` too, so
    this reads the environment with a default and never fails.
    """
    stage = os.environ.get("CONDUCTOR_STAGE", DEFAULT_STAGE)
    return os.environ.get(QUEUES[logical], default_name(stage, logical))


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _client_url(endpoint: str | None) -> str | None:
    """``https://id.execute-api…/api`` (the @connections endpoint) -> ``wss://id.execute-api…/api``."""
    if not endpoint:
        return None
    scheme, sep, rest = endpoint.partition("://")
    return {"http": "ws", "https": "wss"}.get(scheme, scheme) + sep + rest


@dataclass(frozen=True)
class Settings:
    """What every component needs to find its AWS resources and behave per stage."""

    stage: str
    region: str
    endpoint_url: str | None
    tables: Mapping[str, str]
    queues: Mapping[str, str]
    xray_enabled: bool
    #: The key of cursor MACs when set directly (tests, local); deployed stages name a secret.
    cursor_secret: str | None
    event_ttl_days: int
    execution_ttl_days: int
    websocket_endpoint: str | None
    #: Route-class policies: {"read": {"quota": 600, "window_seconds": 60}, ...} (JSON in the env)
    rate_limits: Mapping[str, Any] = field(default_factory=dict)
    #: Breaker settings: {"default": {"failure_rate_threshold": 0.5, ...}, "<service>": {...}}
    breakers: Mapping[str, Any] = field(default_factory=dict)
    #: Networks outbound HTTP (webhooks, targets) may reach although private (local: loopback)
    outbound_allow_networks: str = ""
    #: Running in AWS Lambda (AWS sets AWS_LAMBDA_FUNCTION_NAME): secrets and allow-lists required
    deployed: bool = False
    #: Secrets Manager secret (name or ARN) holding the cursor key in a deployed stage
    cursor_secret_name: str | None = None
    #: Queue ARNs that sqs targets may name in a deployed stage (local runs: any foreign queue)
    sqs_target_queues: tuple[str, ...] = ()
    webhook_disable_after: int = 20
    #: How late a retry job's, delivery's or run's next step may be before the reconciler takes
    #: its message for lost and sends it again (services/reconciler.py)
    recover_grace_seconds: int = 120
    #: How far ahead the minute tick takes runs, sent with an SQS delay to start at their time
    #: (0: only what is due now, started at the tick)
    scheduler_lookahead_seconds: int = 75
    #: The WebSocket URL clients (the dashboard) connect to; by default the management endpoint's
    #: own address (http -> ws), which is what the local gateway serves.
    websocket_url: str | None = None
    #: CloudWatch EMF lines on stdout (domain/emf.py): on where Lambda runs it, unless told
    emf_enabled: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        stage = env.get("CONDUCTOR_STAGE", DEFAULT_STAGE)
        return cls(
            stage=stage,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            tables={k: env.get(v, default_name(stage, k)) for k, v in TABLES.items()},
            queues={k: env.get(v, default_name(stage, k)) for k, v in QUEUES.items()},
            # X-Ray is on only where Lambda runs it (AWS sets AWS_LAMBDA_FUNCTION_NAME) unless forced.
            xray_enabled=_flag(env.get("CONDUCTOR_XRAY"), "AWS_LAMBDA_FUNCTION_NAME" in env),
            cursor_secret=env.get("CONDUCTOR_CURSOR_SECRET") or None,
            cursor_secret_name=env.get("CONDUCTOR_CURSOR_SECRET_NAME") or None,
            deployed="AWS_LAMBDA_FUNCTION_NAME" in env,
            sqs_target_queues=tuple(
                part.strip() for part in env.get("CONDUCTOR_SQS_TARGET_QUEUES", "").split(",") if part.strip()
            ),
            event_ttl_days=int(env.get("CONDUCTOR_EVENT_TTL_DAYS", "30")),
            execution_ttl_days=int(env.get("CONDUCTOR_EXECUTION_TTL_DAYS", "30")),
            websocket_endpoint=env.get("CONDUCTOR_WS_ENDPOINT") or None,
            rate_limits=json.loads(env.get("CONDUCTOR_RATE_LIMITS") or "{}"),
            breakers=json.loads(env.get("CONDUCTOR_BREAKERS") or "{}"),
            outbound_allow_networks=env.get("CONDUCTOR_OUTBOUND_ALLOW_NETWORKS")
            or env.get("CONDUCTOR_WEBHOOK_ALLOW_NETWORKS", ""),  # the older name still works
            webhook_disable_after=int(env.get("CONDUCTOR_WEBHOOK_DISABLE_AFTER", "20")),
            recover_grace_seconds=int(env.get("CONDUCTOR_RECOVER_GRACE_SECONDS", "120")),
            scheduler_lookahead_seconds=int(env.get("CONDUCTOR_SCHEDULER_LOOKAHEAD_SECONDS", "75")),
            websocket_url=env.get("CONDUCTOR_WS_URL") or _client_url(env.get("CONDUCTOR_WS_ENDPOINT")),
            emf_enabled=_flag(env.get("CONDUCTOR_EMF"), "AWS_LAMBDA_FUNCTION_NAME" in env),
        )


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once (a Lambda container's environment never changes)."""
    return Settings.from_env()


def reset_settings() -> None:
    """Forget the cached settings (tests and the local runtime change the environment)."""
    get_settings.cache_clear()
