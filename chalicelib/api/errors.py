"""The one mapping from domain errors to HTTP responses, in the shape every client relies on:
``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.errors import ConductorError

STATUS_BY_CODE: dict[str, int] = {
    "validation_error": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "idempotency_key_reused": 409,
    "gone": 410,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "internal_error": 500,
    "service_unavailable": 503,
}

#: Chalice's own error responses carry {"Code", "Message"}; these are their codes in our terms.
CHALICE_CODES: dict[str, str] = {
    "BadRequestError": "validation_error",
    "BadRequest": "validation_error",
    "UnauthorizedError": "unauthorized",
    "ForbiddenError": "forbidden",
    "NotFoundError": "not_found",
    "MethodNotAllowedError": "method_not_allowed",
    "ConflictError": "conflict",
    "UnprocessableEntityError": "validation_error",
    "TooManyRequestsError": "rate_limited",
    "UnsupportedMediaType": "unsupported_media_type",
    "InternalServerError": "internal_error",
}


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or []}}


def error_response(
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    status: int | None = None,
) -> Response:
    return Response(
        body=error_body(code, message, details),
        status_code=status or STATUS_BY_CODE.get(code, 500),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


#: How long a client should wait before retrying after a dependency failed (503).
RETRY_AFTER_SECONDS = 2


def from_exception(exc: ConductorError) -> Response:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if exc.code == "service_unavailable" else None
    return error_response(exc.code, exc.message, exc.details, headers=headers)


def is_dependency_error(exc: BaseException) -> bool:
    """An AWS SDK error (boto3/botocore, pynamodb) that no store translated: a 503, not a 500."""
    return type(exc).__module__.split(".")[0] in ("botocore", "boto3", "pynamodb")


def reshape_chalice_error(response: Response) -> Response:
    """Rewrite an error Chalice produced itself (405, 415, unhandled 500) into our shape.

    The message of a 500 is replaced: it never says more than that something failed.
    """
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or "Code" not in body:
        return response
    code = CHALICE_CODES.get(str(body["Code"]), "internal_error")
    if response.status_code >= 500:
        code, message = "internal_error", "An internal error occurred; it has been logged."
    else:
        message = str(body.get("Message", ""))
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    return error_response(code, message, None, headers=headers, status=response.status_code)
