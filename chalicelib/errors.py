"""Domain errors. Services raise these; ``chalicelib.api.errors`` maps them to HTTP once."""

from __future__ import annotations

from typing import Any


class ConductorError(Exception):
    """Base of every error a client may see; ``code`` is the stable identifier in the API."""

    code = "internal_error"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class ValidationFailed(ConductorError):
    code = "validation_error"


class IdempotencyKeyReused(ConductorError):
    """The idempotency key was used before with a different request."""

    code = "idempotency_key_reused"


class NotFound(ConductorError):
    code = "not_found"


class Conflict(ConductorError):
    code = "conflict"


class Unauthorized(ConductorError):
    code = "unauthorized"


class Forbidden(ConductorError):
    code = "forbidden"


class PayloadTooLarge(ConductorError):
    code = "payload_too_large"


class UnsupportedMediaType(ConductorError):
    code = "unsupported_media_type"


class RateLimited(ConductorError):
    code = "rate_limited"


class Gone(ConductorError):
    code = "gone"


class DependencyUnavailable(ConductorError):
    """An AWS dependency failed; the request may be retried."""

    code = "service_unavailable"
