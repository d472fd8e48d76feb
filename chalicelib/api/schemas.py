"""Request and response models: they validate input and are the OpenAPI document's schemas.

Imported only when a request is validated or the OpenAPI document is built, never by ``import
app`` (pydantic costs ~0.3 s to import; SQS, WebSocket and schedule Lambdas never need it).
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.events import CATALOG

Role = Literal["admin", "operator", "viewer"]
CUSTOM_TYPE_PATTERN = r"^custom(\.[a-z0-9_]{1,40}){1,4}$"
CustomType = Annotated[str, Field(pattern=CUSTOM_TYPE_PATTERN)]
#: Exactly the types that exist: the catalog's, or a client's own under ``custom.``.
KnownType = Literal[tuple(t.name for t in CATALOG)] | CustomType  # type: ignore[valid-type]


class Strict(BaseModel):
    """Unknown fields are errors: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    field: str
    problem: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail]


class ErrorResponse(BaseModel):
    error: ErrorInfo


# --- pagination ------------------------------------------------------------------------------


class PageQuery(Strict):
    limit: int = Field(50, ge=1, le=200, description="Items per page (1-200).")
    cursor: str | None = Field(None, max_length=2048, description="`next_cursor` of the last page.")


# --- events ----------------------------------------------------------------------------------


class Event(BaseModel):
    id: str = Field(pattern=r"^evt_[0-9A-Z]{26}$")
    type: str
    timestamp: str
    data: dict[str, Any]


class EventPage(BaseModel):
    items: list[Event]
    next_cursor: str | None


class EventType(BaseModel):
    type: str
    category: Literal["errors", "schedules", "webhooks", "system"]
    description: str


class EventTypes(BaseModel):
    categories: list[str]
    items: list[EventType]
    custom_prefix: str


class ListEventsQuery(PageQuery):
    type: KnownType | None = Field(None, description="Only this type.")
    from_: datetime | None = Field(None, alias="from", description="Oldest time (ISO-8601).")
    to: datetime | None = Field(None, description="Newest time (ISO-8601).")


class PublishEvent(Strict):
    type: CustomType = Field(description="`custom.` and 1-4 lowercase segments.")
    data: dict[str, Any] = Field(default_factory=dict)


# --- health ----------------------------------------------------------------------------------


class HealthComponent(BaseModel):
    kind: Literal["table", "queue"]
    name: str
    resource: str
    status: Literal["ok", "down"]
    detail: str | None


class HealthReport(BaseModel):
    status: Literal["ok", "degraded"]
    components: list[HealthComponent]
    down: list[str]


# --- API keys --------------------------------------------------------------------------------


class RateLimitOverride(Strict):
    quota: int = Field(ge=1, le=1_000_000)
    window_seconds: int = Field(ge=1, le=86_400)


RateLimits = dict[Literal["read", "write", "batch", "admin"], RateLimitOverride]


class CreateApiKey(Strict):
    name: str = Field(min_length=1, max_length=100)
    role: Role
    rate_limits: RateLimits | None = Field(None, description="Overrides per route class.")


class ApiKey(BaseModel):
    id: str
    name: str
    role: Role
    created_at: str
    revoked_at: str | None
    rate_limits: dict[str, RateLimitOverride] | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret; shown only in this response.")


class ApiKeyPage(BaseModel):
    items: list[ApiKey]
    next_cursor: str | None


class Index(BaseModel):
    name: str
    versions: dict[str, str]
    links: dict[str, str]
