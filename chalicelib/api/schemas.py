"""Request and response models: they validate input and are the OpenAPI document's schemas.

Imported only when a request is validated or the OpenAPI document is built, never by ``import
app`` (pydantic costs ~0.3 s to import; SQS, WebSocket and schedule Lambdas never need it).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from chalicelib.domain import headers
from chalicelib.domain.breaker import SERVICE_PATTERN
from chalicelib.domain.events import CATALOG, CUSTOM_TYPE_PATTERN, SUBSCRIPTION_PATTERN
from chalicelib.domain.ids import id_pattern

Role = Literal["admin", "operator", "viewer"]
CustomType = Annotated[str, Field(pattern=CUSTOM_TYPE_PATTERN)]
#: Exactly the types that exist: the catalog's, or a client's own under ``custom.``.
KnownType = Literal[tuple(t.name for t in CATALOG)] | CustomType  # type: ignore[valid-type]


def _iso_only(value: Any) -> Any:
    """Times are ISO-8601 strings: pydantic would also take 0.5 as seconds since 1970."""
    if not isinstance(value, str | datetime) or (
        isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+(\.\d*)?([eE][-+]?\d+)?\s*", value)
    ):
        raise ValueError("must be an ISO-8601 date and time, e.g. 2026-12-01T09:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]


class Model(BaseModel):
    """Every schema builds its validator on first use, not at import: a cold container's first
    request pays for the models it touches only (bench/coldstart.py)."""

    model_config = ConfigDict(defer_build=True)


class Strict(Model):
    """Unknown fields are errors: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class ErrorDetail(Model):
    field: str
    problem: str


class ErrorInfo(Model):
    code: str
    message: str
    details: list[ErrorDetail]


class ErrorResponse(Model):
    error: ErrorInfo


# --- pagination ------------------------------------------------------------------------------


class PageQuery(Strict):
    limit: int = Field(50, ge=1, le=200, description="Items per page (1-200).")
    cursor: str | None = Field(
        None,
        max_length=2048,
        pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
        description="`next_cursor` of the last page, with the same filters.",
    )


# --- events ----------------------------------------------------------------------------------


class Event(Model):
    id: str = Field(pattern=id_pattern("evt"))
    type: str
    timestamp: str
    data: dict[str, Any]


class EventPage(Model):
    items: list[Event]
    next_cursor: str | None


class EventType(Model):
    type: str
    category: Literal["errors", "schedules", "webhooks", "system"]
    description: str


class EventTypes(Model):
    categories: list[str]
    items: list[EventType]
    custom_prefix: str


class ListEventsQuery(PageQuery):
    type: KnownType | None = Field(None, description="Only this type.")
    from_: IsoDateTime | None = Field(
        None, alias="from", description="Oldest time (ISO-8601); not after `to`."
    )
    to: IsoDateTime | None = Field(None, description="Newest time (ISO-8601).")


class PublishEvent(Strict):
    type: CustomType = Field(description="`custom.` and 1-4 lowercase segments.")
    data: dict[str, Any] = Field(default_factory=dict)


# --- health ----------------------------------------------------------------------------------


class HealthComponent(Model):
    kind: Literal["table", "queue"]
    name: str
    resource: str
    status: Literal["ok", "down"]
    detail: str | None


class HealthReport(Model):
    status: Literal["ok", "degraded"]
    components: list[HealthComponent]
    down: list[str]


class SessionKey(Model):
    id: str
    name: str
    role: Role


class DashboardSession(Model):
    key: SessionKey = Field(description="The key this request was made with.")
    websocket_url: str | None = Field(description="Where to subscribe (null: not configured).")
    server_time: str


class RealtimeTicket(Model):
    ticket: str = Field(description="Open the WebSocket with ?ticket=<this>; works once.")
    expires_at: str = Field(description="Unused after this (60 s), it is refused.")
    url: str | None = Field(description="The WebSocket URL with the ticket (null: not configured).")


# --- API keys --------------------------------------------------------------------------------


class RateLimitOverride(Strict):
    quota: int = Field(ge=1, le=1_000_000, strict=True)
    window_seconds: int = Field(ge=1, le=86_400, strict=True)


RateLimits = dict[Literal["read", "write", "batch", "admin"], RateLimitOverride]


class CreateApiKey(Strict):
    name: str = Field(min_length=1, max_length=100)
    role: Role
    rate_limits: RateLimits | None = Field(None, description="Overrides per route class.")


class ApiKey(Model):
    id: str
    name: str
    role: Role
    created_at: str
    revoked_at: str | None
    rate_limits: dict[str, RateLimitOverride] | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret; shown only in this response.")


class ApiKeyPage(Model):
    items: list[ApiKey]
    next_cursor: str | None


# --- error recovery --------------------------------------------------------------------------

Service = Annotated[str, Field(pattern=SERVICE_PATTERN, description="The downstream service.")]


HeaderName = Annotated[str, Field(pattern=headers.NAME_PATTERN)]
HEADER_VALUE = headers.VALUE_PATTERN


class HttpTarget(Strict):
    type: Literal["http"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(pattern=r"^https?://[^\s/$.?#][^\s]*$", max_length=2048)
    headers: dict[HeaderName, Annotated[str, Field(max_length=4096, pattern=HEADER_VALUE)]] = Field(
        default_factory=dict,
        max_length=50,
        description="Write-only: answers show each value as ********; sending ******** back "
        "on an update keeps the stored value.",
    )
    body: Any = None
    timeout_seconds: float = Field(10, gt=0, le=30, strict=True)


class SqsTarget(Strict):
    type: Literal["sqs"]
    queue_url: str = Field(pattern=r"^https?://\S+$", max_length=2048)
    message: Any = None


class EventTarget(Strict):
    type: Literal["event"]
    event_type: CustomType
    data: dict[str, Any] = Field(default_factory=dict)


Target = Annotated[HttpTarget | SqsTarget | EventTarget, Field(discriminator="type")]


class RetryPolicyModel(Strict):
    strategy: Literal["exponential", "linear", "fixed"] = "exponential"
    max_attempts: int = Field(5, ge=1, le=50, strict=True)
    initial_delay_seconds: float = Field(1, ge=0, le=3600, strict=True)
    max_delay_seconds: float = Field(300, ge=0, le=86_400, strict=True)
    multiplier: float = Field(2.0, ge=1, le=10, strict=True)
    increment_seconds: float | None = Field(None, ge=0, le=3600, strict=True)
    jitter: Literal["none", "full", "equal", "decorrelated"] = "full"
    non_retryable: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50
    )
    deadline_seconds: int = Field(86_400, ge=1, le=30 * 86_400, strict=True)


class FailedError(Strict):
    type: str = Field(min_length=1, max_length=100)
    message: str = Field("", max_length=4000)


class CreateRetryJob(Strict):
    service: Service
    target: Target
    error: FailedError
    retry_policy: RetryPolicyModel = Field(default_factory=RetryPolicyModel)
    idempotency_key: str | None = Field(None, min_length=1, max_length=128)
    workflow_id: str | None = Field(None, max_length=128)
    execution_id: str | None = Field(None, max_length=128)


class Attempt(Model):
    number: int
    started_at: str
    finished_at: str
    duration_ms: float
    outcome: Literal["succeeded", "failed"]
    status_code: int | None
    error_type: str | None
    error_message: str | None
    retry_after: float | None
    response_excerpt: str | None
    next_delay_seconds: float | None


class RetryJobSummary(Model):
    """A retry job as lists show it: without its attempts (GET the job, or its /attempts)."""

    id: str
    status: Literal["scheduled", "running", "succeeded", "dead_lettered", "resolved"]
    service: str
    service_name: str | None = Field(
        None, description="The schedule's name for a `schedule:<id>` service (in lists; null otherwise)."
    )
    target: dict[str, Any]
    error: dict[str, Any]
    retry_policy: dict[str, Any]
    attempt_count: int
    next_attempt_at: str | None
    idempotency_key: str | None
    workflow_id: str | None
    execution_id: str | None
    note: str | None
    dead_letter_id: str | None
    replay_of: str | None
    origin: dict[str, Any] = Field(
        description='Who handed the job over: `{"type": "api"}`, '
        '`{"type": "schedule_run", "schedule_id", '
        '"execution_id"}` or `{"type": "replay", '
        '"dead_letter_id"}`.'
    )
    created_at: str
    updated_at: str
    finished_at: str | None


class RetryJob(RetryJobSummary):
    attempts: list[Attempt]


class RetryJobPage(Model):
    items: list[RetryJobSummary]
    next_cursor: str | None


class AttemptPage(Model):
    items: list[Attempt]
    next_cursor: str | None


class ListRetryJobsQuery(PageQuery):
    status: Literal["scheduled", "running", "succeeded", "dead_lettered", "resolved"] | None = Field(
        None, description="Only jobs in this status."
    )
    service: Service | None = Field(None, description="Only jobs of this downstream service.")


class ResolveRetryJob(Strict):
    id: str = Field(pattern=id_pattern("rty"))
    note: str | None = Field(None, max_length=2000)


class StatsQuery(Strict):
    from_: IsoDateTime | None = Field(
        None, alias="from", description="Default: 24 hours ago; not after `to`."
    )
    to: IsoDateTime | None = Field(None, description="Default: now.")


class StatsSummary(Model):
    counts: dict[str, int]
    failed_attempts: int
    success_rate: float | None
    mean_attempts_to_success: float | None


class RetryStats(StatsSummary):
    from_: str = Field(alias="from")
    to: str
    services: dict[str, StatsSummary]
    names: dict[str, str] = Field(
        default_factory=dict,
        description="Service -> its schedule's name, for the `schedule:<id>` services among them.",
    )


class BreakerWindow(Model):
    size: int
    failures: int
    failure_rate: float


class Breaker(Model):
    service: str
    state: Literal["closed", "open", "half_open", "forced_open", "forced_closed"]
    window: BreakerWindow
    opened_at: str | None
    next_trial_at: str | None
    trials_started: int
    settings: dict[str, float]
    updated_at: str | None


class BreakerPage(Model):
    items: list[Breaker]
    next_cursor: str | None


class BreakerCommand(Strict):
    action: Literal["reset", "force_open", "force_close"]


class DeadLetter(Model):
    id: str
    status: Literal["open", "resolved", "replayed"]
    source: str
    service: str
    service_name: str | None = Field(
        None, description="The schedule's name for a `schedule:<id>` service (in lists; null otherwise)."
    )
    fingerprint: str
    error: dict[str, Any]
    payload: dict[str, Any]
    attempts: int
    retry_job_id: str | None
    replay_job_id: str | None
    note: str | None
    created_at: str
    resolved_at: str | None


class DeadLetterPage(Model):
    items: list[DeadLetter]
    next_cursor: str | None


class ListDeadLettersQuery(PageQuery):
    status: Literal["open", "resolved", "replayed"] = Field(
        "open", description="Open (default), resolved by hand, or replayed."
    )
    fingerprint: str | None = Field(
        None, pattern=r"^[0-9a-f]{16}$", description="One group: the same failure of the same source."
    )
    source: str | None = Field(
        None,
        max_length=100,
        description="Where it came from: "
        "`retry_job`, `webhook`, or `sqs:<queue>` (a message a handler "
        "gave up on).",
    )
    service: Service | None = Field(None, description="Only this downstream service's.")


class Note(Strict):
    note: str | None = Field(None, max_length=2000)


# --- batches ---------------------------------------------------------------------------------


class BatchRequest(Strict):
    """1-100 items; each is validated on its own and answered in ``results``."""

    items: list[Any] = Field(min_length=1, max_length=100)


class DeadLetterRef(Strict):
    id: str = Field(pattern=id_pattern("dlq"))
    note: str | None = Field(None, max_length=2000)


class BatchItemError(Model):
    code: str
    message: str
    details: list[ErrorDetail] = Field(
        default_factory=list, description="Field-level problems, as the single route says."
    )


class BatchItemResult(Model):
    index: int
    id: str | None
    status: Literal["ok", "error"]
    error: BatchItemError | None = None


class BatchResult(Model):
    results: list[BatchItemResult]
    succeeded: int
    failed: int


# --- schedules -------------------------------------------------------------------------------


def _check_expression(value: str) -> str:
    from chalicelib.domain.schedule import parse_expression  # noqa: PLC0415

    parse_expression(value)  # ExpressionError is a ValueError: pydantic reports its message
    return value


def _check_zone(value: str) -> str:
    from chalicelib.domain.schedule import zone  # noqa: PLC0415

    zone(value)
    return value


ScheduleExpression = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        pattern=r"^\S(?:.*\S)?$",
        examples=["cron(0 9 * * 1-5)", "rate(5 minutes)", "at(2026-12-01T09:00:00)"],
    ),
    AfterValidator(_check_expression),
]
TimeZone = Annotated[
    str, Field(min_length=1, max_length=64, examples=["Europe/Berlin"]), AfterValidator(_check_zone)
]
Tag = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/=+-]+$")]


OverlapPolicy = Literal["skip", "allow", "buffer_one", "buffer_all"]


class FlexibleTimeWindow(Strict):
    mode: Literal["OFF", "FLEXIBLE"]
    maximum_window_minutes: int | None = Field(None, ge=1, le=1440, strict=True)

    @model_validator(mode="after")
    def _window_with_flexible(self) -> FlexibleTimeWindow:
        if (self.mode == "FLEXIBLE") != (self.maximum_window_minutes is not None):
            raise ValueError("maximum_window_minutes is required with FLEXIBLE and refused with OFF")
        return self


class HistoryLimits(Strict):
    succeeded: int = Field(ge=0, le=1000, strict=True)
    failed: int = Field(ge=0, le=1000, strict=True)


class ScheduleBody(Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    expression: ScheduleExpression
    timezone: TimeZone = "UTC"
    start_at: IsoDateTime | None = None
    end_at: IsoDateTime | None = None
    jitter_seconds: int = Field(0, ge=0, le=900, strict=True)
    overlap_policy: OverlapPolicy = "skip"
    catchup: Literal["skip", "latest", "all"] = "latest"
    catchup_window_seconds: int = Field(3600, ge=60, le=7 * 86_400, strict=True)
    enabled: bool = Field(True, strict=True)
    target: Target
    retry_policy: RetryPolicyModel = Field(default_factory=lambda: RetryPolicyModel(max_attempts=3))
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    pause_after_failures: int | None = Field(
        None,
        ge=1,
        le=100,
        strict=True,
        description="Pause the schedule after this many runs in a row ended failed (after their "
        "retries); a `schedule.paused` event says why. Null: never.",
    )
    flexible_time_window: FlexibleTimeWindow = Field(
        default_factory=lambda: FlexibleTimeWindow(mode="OFF"),
        description="EventBridge's: OFF, or FLEXIBLE with maximum_window_minutes (1-1440): each "
        "run starts at a stable point within the window after its time.",
    )
    action_after_completion: Literal["none", "delete"] = Field(
        "none",
        description="delete: the schedule deletes itself once its last run ended "
        "(one-time schedules; EventBridge's ActionAfterCompletion).",
    )
    remaining_actions: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        strict=True,
        description="Runs left to start on schedule (Temporal's limited actions); at 0 the "
        "schedule pauses itself. Null: no limit.",
    )
    history_limits: HistoryLimits | None = Field(
        None,
        description="Newest runs kept per outcome beside the TTL (Kubernetes' history "
        "limits). Null: every run until its TTL.",
    )


#: what a schedule's answer carries that nobody writes: a GET's answer, edited and PUT back,
#: is accepted (these are dropped), so a field added to answers never breaks such a client
SCHEDULE_READ_ONLY = (
    "id",
    "expression_words",
    "paused_note",
    "next_runs",
    "counters",
    "created_at",
    "updated_at",
)


class UpdateSchedule(ScheduleBody):
    version: int | None = Field(None, ge=1, strict=True, description="Or send If-Match: <version>.")

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in SCHEDULE_READ_ONLY}
        return data


class SchedulePreview(Strict):
    expression: ScheduleExpression
    timezone: TimeZone = "UTC"
    start_at: IsoDateTime | None = None
    end_at: IsoDateTime | None = None
    count: int = Field(5, ge=1, le=50, strict=True)


class NextRuns(Model):
    next_runs: list[str]
    expression_words: str | None = Field(
        description='The expression in words, e.g. "At 09:00, Monday through Friday".'
    )


class Schedule(Model):
    id: str
    name: str
    description: str | None
    expression: str
    expression_words: str | None = Field(
        description="The expression in words, made when the schedule was written (null before that existed)."
    )
    timezone: str
    start_at: str | None
    end_at: str | None
    jitter_seconds: int
    overlap_policy: str
    catchup: str
    catchup_window_seconds: int
    enabled: bool
    paused_note: str | None
    target: dict[str, Any]
    retry_policy: dict[str, Any]
    tags: list[str]
    pause_after_failures: int | None
    flexible_time_window: dict[str, Any]
    action_after_completion: str
    remaining_actions: int | None
    history_limits: dict[str, int] | None
    version: int
    next_runs: list[str]
    counters: dict[str, Any] = Field(
        description="runs, failures, running, last_run_at, "
        "last_success_at, last_failure_at, consecutive_failures"
    )
    created_at: str
    updated_at: str


class SchedulePage(Model):
    items: list[Schedule]
    next_cursor: str | None


class ListSchedulesQuery(PageQuery):
    enabled: bool | None = Field(None, description="true: enabled only; false: paused only.")
    tag: Tag | None = Field(None, description="Only schedules with this tag.")


class Execution(Model):
    id: str
    schedule_id: str
    scheduled_for: str
    trigger: Literal["scheduled", "manual", "catchup", "backfill"] = Field(
        description="scheduled: on time; catchup: missed, run late by the catch-up policy; "
        "manual: run now; backfill: a past range run on request"
    )
    status: Literal["pending", "running", "succeeded", "failed", "skipped", "retrying"]
    started_at: str | None
    finished_at: str | None
    duration_ms: float | None
    status_code: int | None
    error: dict[str, Any] | None
    retry_job_id: str | None
    note: str | None
    start_offset_seconds: int = Field(
        description="seconds after scheduled_for the run was planned to start: its jitter offset"
    )
    overlap_policy: str | None = Field(
        description="this run's own overlap policy (a backfill's), else null: the schedule's"
    )
    start_delay_ms: float | None = Field(
        description="started_at minus the planned start (scheduled_for + start_offset_seconds), "
        "for scheduled and catch-up runs: how late the scheduler started it"
    )
    created_at: str


class ExecutionPage(Model):
    items: list[Execution]
    next_cursor: str | None


class Backfill(Strict):
    from_: IsoDateTime = Field(alias="from")
    to: IsoDateTime
    overlap_policy: OverlapPolicy | None = Field(
        None, description="For these runs only (e.g. `allow`: side by side); else the schedule's."
    )


class BackfillResult(Model):
    executions: list[Execution]


class ScheduleRef(Strict):
    id: str = Field(pattern=id_pattern("sch"))


class SchedulePause(ScheduleRef):
    note: str | None = Field(None, max_length=2000, description="Why it is paused.")


# --- webhooks --------------------------------------------------------------------------------

EventPattern = Annotated[
    str, Field(pattern=SUBSCRIPTION_PATTERN, description="An event type, `prefix.*` or `*`.")
]


class WebhookBody(Strict):
    url: str = Field(pattern=r"^https?://[^\s/$.?#][^\s]*$", max_length=2048)
    event_types: list[EventPattern] = Field(min_length=1, max_length=50)
    description: str | None = Field(None, max_length=500)
    headers: dict[HeaderName, Annotated[str, Field(max_length=1024, pattern=HEADER_VALUE)]] = Field(
        default_factory=dict,
        max_length=20,
        description="Write-only: answers show each value as ********; sending ******** back "
        "on an update keeps the stored value.",
    )
    enabled: bool = Field(True, strict=True)
    rate_limit: int | None = Field(None, ge=1, le=1000, strict=True, description="Deliveries per second.")
    max_attempts: int = Field(3, ge=1, le=8, strict=True, description="Up to Svix's 8 attempts over a day.")
    retry_schedule: list[Annotated[int, Field(ge=1, le=86_400, strict=True)]] | None = Field(
        None,
        min_length=1,
        max_length=7,
        description="This endpoint's own delays before each retry, in seconds (each +-20 % "
        "jitter; a receiver's Retry-After on 429/503 waits longer), e.g. "
        "[60, 600, 3600]: then max_attempts is its length + 1. Null: the default "
        "schedule, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.",
    )

    @model_validator(mode="after")
    def _attempts_follow_the_schedule(self) -> WebhookBody:
        if self.retry_schedule is None:
            return self
        attempts = len(self.retry_schedule) + 1
        if "max_attempts" in self.model_fields_set and self.max_attempts != attempts:
            raise ValueError(
                f"retry_schedule has {len(self.retry_schedule)} delays, so "
                f"max_attempts must be {attempts} (or left out)"
            )
        self.max_attempts = attempts
        return self


class Webhook(Model):
    id: str
    url: str
    description: str | None
    event_types: list[str]
    headers: dict[str, str]
    enabled: bool
    disabled_reason: str | None
    rate_limit: int | None
    max_attempts: int
    retry_schedule: list[int] | None = Field(
        description="Seconds before each retry; null: the default schedule."
    )
    version: int
    consecutive_failures: int
    created_at: str
    updated_at: str


class WebhookCreated(Webhook):
    secret: str = Field(description="whsec_...; shown only here and on rotation.")


class WebhookPage(Model):
    items: list[Webhook]
    next_cursor: str | None


class RotatedSecret(Model):
    id: str
    secret: str
    previous_secret_expires_at: str


class DeliveryAttempt(Model):
    number: int
    started_at: str
    finished_at: str
    duration_ms: float
    status_code: int | None
    response_headers: dict[str, str]
    response_body: str | None
    error: dict[str, str] | None
    next_attempt_at: str | None


class DeliverySummary(Model):
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed", "skipped"]
    skipped_reason: str | None = Field(
        None, description="Why a delivery waits (skipped): its endpoint was disabled. Recover sends it."
    )
    attempt_count: int
    max_attempts: int
    next_attempt_at: str | None
    dead_letter_id: str | None
    created_at: str
    updated_at: str


class Delivery(DeliverySummary):
    attempts: list[DeliveryAttempt]
    payload: dict[str, Any]


class DeliveryPage(Model):
    items: list[DeliverySummary]
    next_cursor: str | None


class ListDeliveriesQuery(PageQuery):
    status: Literal["pending", "delivered", "failed", "skipped"] | None = Field(
        None, description="Only deliveries in this status."
    )
    event_type: str | None = Field(None, max_length=200, description="Only this event type.")


class Recover(Strict):
    since: IsoDateTime


class Recovered(Model):
    webhook_id: str
    since: str
    redelivered: int


# --- metrics and dashboard -------------------------------------------------------------------


class RangeQuery(Strict):
    from_: IsoDateTime | None = Field(
        None, alias="from", description="Default: 24 hours ago; not after `to`."
    )
    to: IsoDateTime | None = Field(None, description="Default: now.")


class HistoryQuery(RangeQuery):
    metric: Literal["api", "retries", "schedules", "webhooks", "breakers"] = Field(
        description="Which component's counters."
    )
    window: Literal["minute", "hour", "day"] = Field(
        "hour", description="Window size (minutes are kept 2 days, hours 35, days 400)."
    )
    field: str | None = Field(
        None, max_length=100, pattern=r"^[A-Za-z0-9_.]+$", description="One counter only, e.g. `succeeded`."
    )


class TimelineQuery(RangeQuery, PageQuery):
    type: KnownType | None = Field(None, description="Only this event type.")
