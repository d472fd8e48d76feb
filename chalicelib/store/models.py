"""pynamodb models for the tables the foundation uses. Keys and indexes mirror infra/template.yaml."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

UNBOUND = "unbound"  # replaced by chalicelib.store.base.bind before any call


class EventTypeIndex(GlobalSecondaryIndex["EventRecord"]):
    class Meta:
        index_name = "by-type"
        projection = AllProjection()

    type = UnicodeAttribute(hash_key=True)
    sort_key = UnicodeAttribute(range_key=True)


class EventMonthIndex(GlobalSecondaryIndex["EventRecord"]):
    class Meta:
        index_name = "by-month"
        projection = AllProjection()

    month = UnicodeAttribute(hash_key=True)
    sort_key = UnicodeAttribute(range_key=True)


class EventDueIndex(GlobalSecondaryIndex["EventRecord"]):
    """Events not fanned out yet, by when they were published (sparse: ``store/due.py``)."""

    class Meta:
        index_name = "by-due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class EventRecord(Model):
    """One timeline event, partitioned by UTC day and sorted by ``timestamp#id``."""

    class Meta:
        table_name = UNBOUND

    day = UnicodeAttribute(hash_key=True)
    sort_key = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    type = UnicodeAttribute()
    timestamp = UnicodeAttribute()
    data = JSONAttribute()
    expires_at = NumberAttribute()
    #: "YYYY-MM" (UTC): the by-month index lists the timeline a month per Query
    month = UnicodeAttribute(null=True)
    #: until the fan-out handled it ("event#<n>", the epoch it was published): the by-due index
    due_shard = UnicodeAttribute(null=True)
    due_at = NumberAttribute(null=True)
    by_type = EventTypeIndex()
    by_month = EventMonthIndex()
    by_due = EventDueIndex()


class ConnectionKeyIndex(GlobalSecondaryIndex["ConnectionRecord"]):
    """The connections opened with one API key: revoking the key closes them."""

    class Meta:
        index_name = "by-key"
        projection = IncludeProjection(["endpoint"])

    key_id = UnicodeAttribute(hash_key=True)


class ConnectionRecord(Model):
    """An open WebSocket connection and the management endpoint that reaches it."""

    class Meta:
        table_name = UNBOUND

    id = UnicodeAttribute(hash_key=True)
    endpoint = UnicodeAttribute()
    connected_at = UnicodeAttribute()
    patterns = ListAttribute(of=UnicodeAttribute, default=list)
    key_id = UnicodeAttribute(null=True)
    expires_at = NumberAttribute()
    by_key = ConnectionKeyIndex()


class SubscriptionRecord(Model):
    """Who listens to a pattern: an item per subscriber, and one per pattern holding them all
    (``subscriber = "#all"``, ``store/pattern_sets.py``) that the fan-out reads."""

    class Meta:
        table_name = UNBOUND

    pattern = UnicodeAttribute(hash_key=True)
    subscriber = UnicodeAttribute(range_key=True)  # "con#<id>", "whk#<id>", or "#all"
    expires_at = NumberAttribute(null=True)
    #: the "#all" item's subscribers ("con#<id>", "whk#<id>")
    subscribers = UnicodeSetAttribute(null=True)
    #: the "#all" item reached DynamoDB's item size: this pattern is read by its items instead
    overflow = BooleanAttribute(null=True)


class ListRecord(Model):
    """One item in one filtered list (``store/lists.py``): which list, where in it, and what."""

    class Meta:
        table_name = UNBOUND

    list = UnicodeAttribute(hash_key=True)  # "<kind>?<filter>=<value>&..."
    position = UnicodeAttribute(range_key=True)  # the item's created_sk: newest first
    id = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)  # the item's own, so both go together


class ApiKeyIdIndex(GlobalSecondaryIndex["ApiKeyRecord"]):
    class Meta:
        index_name = "by-id"
        projection = AllProjection()

    id = UnicodeAttribute(hash_key=True)


class ApiKeyListIndex(GlobalSecondaryIndex["ApiKeyRecord"]):
    class Meta:
        index_name = "by-created"
        projection = AllProjection()

    list_pk = UnicodeAttribute(hash_key=True)
    list_sk = UnicodeAttribute(range_key=True)


class ApiKeyRecord(Model):
    """An API key, keyed by its SHA-256 hash: the key itself is never stored."""

    class Meta:
        table_name = UNBOUND

    key_hash = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    created_at = UnicodeAttribute()
    list_pk = UnicodeAttribute(default="key")
    #: "<created_at>#<id>": a total order for listing, newest first, even within one millisecond
    list_sk = UnicodeAttribute()
    revoked_at = UnicodeAttribute(null=True)
    #: Per-key overrides of the route-class policies: {"read": {"quota": 600, "window_seconds": 60}}
    rate_limits = JSONAttribute(null=True)
    by_id = ApiKeyIdIndex()
    by_created = ApiKeyListIndex()


class RetryJobStatusIndex(GlobalSecondaryIndex["RetryJobRecord"]):
    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_sk = UnicodeAttribute(range_key=True)


class RetryJobServiceIndex(GlobalSecondaryIndex["RetryJobRecord"]):
    class Meta:
        index_name = "by-service"
        projection = AllProjection()

    service = UnicodeAttribute(hash_key=True)
    created_sk = UnicodeAttribute(range_key=True)


class RetryJobServiceStatusIndex(GlobalSecondaryIndex["RetryJobRecord"]):
    class Meta:
        index_name = "by-service-status"
        projection = AllProjection()

    service_status = UnicodeAttribute(hash_key=True)
    created_sk = UnicodeAttribute(range_key=True)


class RetryJobDueIndex(GlobalSecondaryIndex["RetryJobRecord"]):
    """Work with a step still to take, by when it is due (sparse: ``store/due.py``)."""

    class Meta:
        index_name = "by-due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class RetryJobRecord(Model):
    """A failed operation being retried. Its attempts are ``AttemptRecord`` items; ``attempts``
    holds only those of jobs written before they were (read with them)."""

    class Meta:
        table_name = UNBOUND

    id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()
    service = UnicodeAttribute()
    created_at = UnicodeAttribute()
    created_sk = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    target = JSONAttribute()
    error = JSONAttribute()
    policy = JSONAttribute()
    attempts = JSONAttribute(default=list)
    attempt_count = NumberAttribute(default=0)
    #: the attempt a worker has claimed, and until when its claim holds
    claimed_attempt = NumberAttribute(null=True)
    lease_until = NumberAttribute(null=True)
    next_attempt_at = UnicodeAttribute(null=True)
    #: the attempt waits for the service's breaker (not for backoff): closing it releases it
    held = UnicodeAttribute(null=True)
    last_delay = NumberAttribute(null=True)
    idempotency_key = UnicodeAttribute(null=True)
    workflow_id = UnicodeAttribute(null=True)
    execution_id = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    dead_letter_id = UnicodeAttribute(null=True)
    replay_of = UnicodeAttribute(null=True)
    #: where the job came from: {"type": "api" | "schedule_run" | "replay", ...}
    origin = JSONAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)
    #: "<service>#<status>", kept with every status change (the by-service-status index)
    service_status = UnicodeAttribute(null=True)
    #: the token of the claim that last took the item's attempt (``services/attempts.py``)
    claim_token = UnicodeAttribute(null=True)
    #: when its next step is due ("<kind>#<n>", epoch seconds): the by-due index
    due_shard = UnicodeAttribute(null=True)
    due_at = NumberAttribute(null=True)
    by_status = RetryJobStatusIndex()
    by_due = RetryJobDueIndex()
    by_service = RetryJobServiceIndex()
    by_service_status = RetryJobServiceStatusIndex()


class AttemptRecord(Model):
    """One attempt of a retry job, in an item of its own: the job never grows with them."""

    class Meta:
        table_name = UNBOUND

    owner = UnicodeAttribute(hash_key=True)  # the job's id
    number = NumberAttribute(range_key=True)
    attempt = JSONAttribute()  # the attempt as the API shows it
    expires_at = NumberAttribute(null=True)


class BreakerListIndex(GlobalSecondaryIndex["BreakerRecord"]):
    class Meta:
        index_name = "by-list"
        projection = AllProjection()

    list_pk = UnicodeAttribute(hash_key=True)
    service = UnicodeAttribute(range_key=True)


class BreakerRecord(Model):
    """One service's circuit breaker, changed only by version-conditional writes."""

    class Meta:
        table_name = UNBOUND

    service = UnicodeAttribute(hash_key=True)
    list_pk = UnicodeAttribute(default="breaker")
    state = UnicodeAttribute()
    window = UnicodeAttribute(default="")
    opened_at = NumberAttribute(null=True)
    trials_started = NumberAttribute(default=0)
    trial_successes = NumberAttribute(default=0)
    version = NumberAttribute()
    updated_at = UnicodeAttribute()
    by_list = BreakerListIndex()


class DeadLetterStatusIndex(GlobalSecondaryIndex["DeadLetterRecord"]):
    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_sk = UnicodeAttribute(range_key=True)


class DeadLetterFingerprintIndex(GlobalSecondaryIndex["DeadLetterRecord"]):
    class Meta:
        index_name = "by-fingerprint"
        projection = AllProjection()

    fingerprint = UnicodeAttribute(hash_key=True)
    created_sk = UnicodeAttribute(range_key=True)


class DeadLetterRecord(Model):
    """Something that gave up: a retry job, or a message an SQS DLQ received."""

    class Meta:
        table_name = UNBOUND

    id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()  # open | resolved | replayed
    source = UnicodeAttribute()  # "retry_job" | "sqs:<queue name>"
    service = UnicodeAttribute()
    fingerprint = UnicodeAttribute()
    created_at = UnicodeAttribute()
    created_sk = UnicodeAttribute()
    error = JSONAttribute()
    payload = JSONAttribute()
    retry_job_id = UnicodeAttribute(null=True)
    replay_job_id = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    resolved_at = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    expires_at = NumberAttribute(null=True)
    by_status = DeadLetterStatusIndex()
    by_fingerprint = DeadLetterFingerprintIndex()


class IdempotencyRecord(Model):
    """A claimed idempotency key and what it produced."""

    class Meta:
        table_name = UNBOUND

    key = UnicodeAttribute(hash_key=True)
    result_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    expires_at = NumberAttribute()


class DueIndex(GlobalSecondaryIndex["ScheduleRecord"]):
    class Meta:
        index_name = "due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    next_run_at = UnicodeAttribute(range_key=True)


class ScheduleListIndex(GlobalSecondaryIndex["ScheduleRecord"]):
    class Meta:
        index_name = "by-created"
        projection = AllProjection()

    list_pk = UnicodeAttribute(hash_key=True)
    created_sk = UnicodeAttribute(range_key=True)


class ScheduleRecord(Model):
    """A schedule, its next run, its overlap slot and its counters."""

    class Meta:
        table_name = UNBOUND

    id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    expression = UnicodeAttribute()
    timezone = UnicodeAttribute()
    start_at = UnicodeAttribute(null=True)
    end_at = UnicodeAttribute(null=True)
    jitter_seconds = NumberAttribute(default=0)
    overlap_policy = UnicodeAttribute()
    catchup = UnicodeAttribute()
    catchup_window_seconds = NumberAttribute()
    enabled = UnicodeAttribute()  # "true" | "false" (filterable without a BOOL quirk)
    paused_note = UnicodeAttribute(null=True)
    target = JSONAttribute()
    retry_policy = JSONAttribute()
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    version = NumberAttribute()
    anchor = UnicodeAttribute()
    created_at = UnicodeAttribute()
    created_sk = UnicodeAttribute()
    list_pk = UnicodeAttribute(default="schedule")
    updated_at = UnicodeAttribute()
    next_run_at = UnicodeAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)
    running = NumberAttribute(default=0)  # before running_ids: no longer written
    #: the runs holding a slot now (ADD/DELETE of one id: a retried write changes nothing)
    running_ids = UnicodeSetAttribute(null=True)
    buffered = UnicodeAttribute(null=True)
    #: the runs waiting under ``buffer_all``, oldest first (at most MAX_BUFFERED)
    buffered_all = ListAttribute(of=UnicodeAttribute, null=True)
    #: EventBridge's flexible time window: runs start within this many minutes of their time
    flexible_window_minutes = NumberAttribute(null=True)
    action_after_completion = UnicodeAttribute(null=True)  # none | delete
    remaining_actions = NumberAttribute(null=True)  # Temporal's limited actions (None: no limit)
    history_limits = JSONAttribute(null=True)  # {"succeeded": N, "failed": M}
    runs = NumberAttribute(default=0)
    failures = NumberAttribute(default=0)
    last_run_at = UnicodeAttribute(null=True)
    last_success_at = UnicodeAttribute(null=True)
    last_failure_at = UnicodeAttribute(null=True)
    #: pause after this many runs in a row ended failed (None: never)
    pause_after_failures = NumberAttribute(null=True)
    expression_words = UnicodeAttribute(null=True)
    #: runs in a row that ended failed (after their retries), reset by one that succeeded
    failure_streak = NumberAttribute(default=0)
    #: a tombstone: deleted, out of both indexes, kept while its history is (then TTL)
    deleted_at = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)
    due = DueIndex()
    by_created = ScheduleListIndex()


class ExecutionIdIndex(GlobalSecondaryIndex["ExecutionRecord"]):
    class Meta:
        index_name = "by-id"
        projection = AllProjection()

    id = UnicodeAttribute(hash_key=True)


class ExecutionLiveIndex(GlobalSecondaryIndex["ExecutionRecord"]):
    """A schedule's runs by when they expire (made + retention): the history reads only runs
    not yet expired, never the ones waiting for TTL to delete them."""

    class Meta:
        index_name = "by-schedule-live"
        projection = AllProjection()

    schedule_id = UnicodeAttribute(hash_key=True)
    live_sk = UnicodeAttribute(range_key=True)


class ExecutionDueIndex(GlobalSecondaryIndex["ExecutionRecord"]):
    """Work with a step still to take, by when it is due (sparse: ``store/due.py``)."""

    class Meta:
        index_name = "by-due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class ExecutionRecord(Model):
    """One run of a schedule; its key is derived from the schedule and the scheduled time, so a
    run is claimed once however many ticks see it."""

    class Meta:
        table_name = UNBOUND

    schedule_id = UnicodeAttribute(hash_key=True)
    sort_key = UnicodeAttribute(range_key=True)  # "<scheduled_for>#<execution id>"
    id = UnicodeAttribute()
    scheduled_for = UnicodeAttribute()
    trigger = UnicodeAttribute()  # scheduled | manual | catchup
    status = UnicodeAttribute()  # pending | running | succeeded | failed | skipped | retrying
    created_at = UnicodeAttribute()
    started_at = UnicodeAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)
    duration_ms = NumberAttribute(null=True)
    status_code = NumberAttribute(null=True)
    error = JSONAttribute(null=True)
    retry_job_id = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    expires_at = NumberAttribute()
    #: "<expires_at, 12 digits>#<sort_key>" (the by-schedule-live index)
    live_sk = UnicodeAttribute(null=True)
    #: the token of the claim that last took the item's attempt (``services/attempts.py``)
    claim_token = UnicodeAttribute(null=True)
    #: when its next step is due ("<kind>#<n>", epoch seconds): the by-due index
    due_shard = UnicodeAttribute(null=True)
    due_at = NumberAttribute(null=True)
    lease_until = NumberAttribute(null=True)
    #: seconds after ``scheduled_for`` the run was planned to start (its jitter offset)
    start_offset_seconds = NumberAttribute(null=True)
    overlap_policy = UnicodeAttribute(null=True)  # a backfill's own, else the schedule's
    by_id = ExecutionIdIndex()
    by_due = ExecutionDueIndex()
    by_schedule_live = ExecutionLiveIndex()


class WebhookListIndex(GlobalSecondaryIndex["WebhookRecord"]):
    class Meta:
        index_name = "by-created"
        projection = AllProjection()

    list_pk = UnicodeAttribute(hash_key=True)
    created_sk = UnicodeAttribute(range_key=True)


class WebhookRecord(Model):
    """A webhook endpoint. Its signing secret is kept (encrypted at rest) to sign deliveries and
    is never returned after creation or rotation."""

    class Meta:
        table_name = UNBOUND

    id = UnicodeAttribute(hash_key=True)
    url = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    event_types = ListAttribute(of=UnicodeAttribute, default=list)
    headers = JSONAttribute(default=dict)
    enabled = UnicodeAttribute()  # "true" | "false"
    disabled_reason = UnicodeAttribute(null=True)
    rate_limit = NumberAttribute(null=True)
    max_attempts = NumberAttribute()
    #: seconds before each retry, this endpoint's own (None: the default, Svix's)
    retry_schedule = ListAttribute(of=NumberAttribute, null=True)
    secret = UnicodeAttribute()
    previous_secret = UnicodeAttribute(null=True)
    previous_secret_expires_at = NumberAttribute(null=True)
    consecutive_failures = NumberAttribute(default=0)
    version = NumberAttribute()
    created_at = UnicodeAttribute()
    created_sk = UnicodeAttribute()
    list_pk = UnicodeAttribute(default="webhook")
    updated_at = UnicodeAttribute()
    by_created = WebhookListIndex()


class DeliveryWebhookIndex(GlobalSecondaryIndex["DeliveryRecord"]):
    class Meta:
        index_name = "by-webhook"
        projection = AllProjection()

    webhook_id = UnicodeAttribute(hash_key=True)
    created_sk = UnicodeAttribute(range_key=True)


class DeliveryStatusIndex(GlobalSecondaryIndex["DeliveryRecord"]):
    class Meta:
        index_name = "by-webhook-status"
        projection = AllProjection()

    webhook_status = UnicodeAttribute(hash_key=True)
    created_sk = UnicodeAttribute(range_key=True)


class DeliveryTypeStatusIndex(GlobalSecondaryIndex["DeliveryRecord"]):
    class Meta:
        index_name = "by-webhook-type-status"
        projection = AllProjection()

    type_status = UnicodeAttribute(hash_key=True)
    created_sk = UnicodeAttribute(range_key=True)


class DeliveryDueIndex(GlobalSecondaryIndex["DeliveryRecord"]):
    """Work with a step still to take, by when it is due (sparse: ``store/due.py``)."""

    class Meta:
        index_name = "by-due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class DeliveryRecord(Model):
    """One event to one endpoint, with every attempt; its id is the receiver's dedupe key."""

    class Meta:
        table_name = UNBOUND

    id = UnicodeAttribute(hash_key=True)
    webhook_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    payload = UnicodeAttribute()  # the exact JSON body that is signed and sent
    status = UnicodeAttribute()  # pending | delivered | failed | skipped (endpoint disabled)
    skipped_reason = UnicodeAttribute(null=True)
    attempts = JSONAttribute(default=list)
    attempt_count = NumberAttribute(default=0)
    max_attempts = NumberAttribute()
    lease_until = NumberAttribute(null=True)
    next_attempt_at = UnicodeAttribute(null=True)
    dead_letter_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    created_sk = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    expires_at = NumberAttribute()
    #: "<webhook id>#<status>", kept with every status change (the by-webhook-status index)
    webhook_status = UnicodeAttribute(null=True)
    #: "<webhook id>#<event type>#<status>", kept with every status change
    type_status = UnicodeAttribute(null=True)
    #: the token of the claim that last took the item's attempt (``services/attempts.py``)
    claim_token = UnicodeAttribute(null=True)
    #: when its next step is due ("<kind>#<n>", epoch seconds): the by-due index
    due_shard = UnicodeAttribute(null=True)
    due_at = NumberAttribute(null=True)
    by_webhook = DeliveryWebhookIndex()
    by_due = DeliveryDueIndex()
    by_webhook_status = DeliveryStatusIndex()
    by_webhook_type_status = DeliveryTypeStatusIndex()
