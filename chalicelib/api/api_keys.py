"""``/v2/api-keys``: create, list and revoke API keys (admin only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib import deps
from chalicelib.api.http import created, cursor_for, page, position_of
from chalicelib.api.routing import ApiBlueprint

if TYPE_CHECKING:  # pragma: no cover
    from chalicelib.api.schemas import CreateApiKey, PageQuery
    from chalicelib.domain.keys import ApiKey

bp = ApiBlueprint(__name__)


def api_key_json(key: ApiKey) -> dict[str, Any]:
    """A key as ``ApiKey`` shows it: never its secret, never its hash."""
    return {
        "id": key.id,
        "name": key.name,
        "role": key.role,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
        "rate_limits": key.rate_limits,
    }


@bp.operation(
    "POST",
    "/api-keys",
    summary="Create an API key (the secret is shown once)",
    role="admin",
    rate_class="admin",
    body="CreateApiKey",
    response="ApiKeyCreated",
    status=201,
)
def create_api_key(body: CreateApiKey) -> Response:
    """Creates a key with a role (admin, operator or viewer) and optional rate-limit overrides per
    route class. The key itself (`cnd_...`) is in this answer only: Conductor stores its hash."""
    limits = body.model_dump()["rate_limits"]
    key, secret = deps.api_keys().create(body.name, body.role, rate_limits=limits)
    return created({**api_key_json(key), "key": secret}, f"/v2/api-keys/{key.id}")


@bp.operation(
    "GET",
    "/api-keys",
    summary="API keys, newest first",
    role="admin",
    rate_class="admin",
    query="PageQuery",
    response="ApiKeyPage",
)
def list_api_keys(query: PageQuery) -> dict[str, Any]:
    """Every API key, newest first, without the keys themselves. Revoked keys stay listed with
    `revoked_at`."""
    items, last = deps.api_keys().list(query.limit, position_of(query, "api-keys"))
    return page([api_key_json(k) for k in items], cursor_for(last, query, "api-keys"))


@bp.operation(
    "GET",
    "/api-keys/{key_id}",
    summary="One API key",
    role="admin",
    rate_class="admin",
    response="ApiKey",
    errors=(404,),
)
def get_api_key(key_id: str) -> dict[str, Any]:
    """One API key's name, role, limits and dates (never the key)."""
    return api_key_json(deps.api_keys().get(key_id))


@bp.operation(
    "DELETE",
    "/api-keys/{key_id}",
    summary="Revoke an API key, at once",
    role="admin",
    rate_class="admin",
    status=204,
    errors=(404,),
)
def revoke_api_key(key_id: str) -> Response:
    """Revokes a key at once: its requests are refused and its open WebSockets closed. Cannot be
    undone."""
    deps.api_keys().revoke(key_id)
    return Response(body="", status_code=204)
