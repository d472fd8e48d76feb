"""API keys and roles: 401/403 per role, key lifecycle, revocation at once, secrets never shown."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import aws as factory
from chalicelib.domain.keys import hash_key
from tests.conftest import Api

# A representative route per role and kind: (method, path, body, lowest role allowed)
ROUTES = [
    ("GET", "/v2/events", None, "viewer"),
    ("GET", "/v2/events/types", None, "viewer"),
    ("GET", "/v2/dashboard/health", None, "viewer"),
    ("POST", "/v2/events", {"type": "custom.rbac"}, "operator"),
    ("GET", "/v2/api-keys", None, "admin"),
    ("POST", "/v2/api-keys", {"name": "x", "role": "viewer"}, "admin"),
]
RANK = {"viewer": 0, "operator": 1, "admin": 2}


def body(response: Any) -> Any:
    return json.loads(response.body) if response.body else None


@pytest.mark.parametrize(("method", "path", "payload", "lowest"), ROUTES)
def test_each_role_gets_exactly_what_it_may(
    api: Api, keys: dict[str, str], method: str, path: str, payload: Any, lowest: str
) -> None:
    # Without a key: 401; with a bad key: 401
    for key in (None, "cnd_not-a-real-key-000000000000000000000"):
        response = api.request(method, path, body=payload, key=key)
        assert response.status_code == 401, (path, key)
        assert body(response)["error"]["code"] == "unauthorized"
    # Each role: allowed at or above ``lowest``, 403 below
    for role, key in keys.items():
        response = api.request(method, path, body=payload, key=key)
        if RANK[role] >= RANK[lowest]:
            assert response.status_code in (200, 201), (path, role, response.body)
        else:
            assert response.status_code == 403, (path, role)
            assert body(response)["error"]["code"] == "forbidden"


def test_x_api_key_header_works_too(api: Api, keys: dict[str, str]) -> None:
    response = api.get("/v2/events", key=None, headers={"X-API-Key": keys["viewer"]})
    assert response.status_code == 200


def test_public_routes_need_no_key(api: Api) -> None:
    for path in ("/", "/dashboard", "/v2/openapi.json"):
        assert api.get(path, key=None).status_code == 200, path
    assert api.get("/v2/nope", key=None).status_code == 404


def test_key_lifecycle_create_list_revoke(api: Api, keys: dict[str, str]) -> None:
    admin = keys["admin"]
    # Given an admin creates a key
    created = api.post("/v2/api-keys", {"name": "ci bot", "role": "operator"}, key=admin)
    assert created.status_code == 201
    new = body(created)
    assert new["key"].startswith("cnd_") and len(new["key"]) >= 40
    assert new["id"].startswith("key_") and new["role"] == "operator" and new["revoked_at"] is None
    assert created.headers["Location"] == f"/v2/api-keys/{new['id']}"
    # Then the key works at once, and the secret is never shown again
    assert api.post("/v2/events", {"type": "custom.by_bot"}, key=new["key"]).status_code == 201
    shown = body(api.get(f"/v2/api-keys/{new['id']}", key=admin))
    assert "key" not in shown and shown["name"] == "ci bot"
    listed = body(api.get("/v2/api-keys", key=admin))["items"]
    assert new["id"] in [k["id"] for k in listed]
    assert all("key" not in k and "key_hash" not in k for k in listed)
    # When it is revoked, Then the very next request with it is refused
    assert api.delete(f"/v2/api-keys/{new['id']}", key=admin).status_code == 204
    refused = api.post("/v2/events", {"type": "custom.by_bot"}, key=new["key"])
    assert refused.status_code == 401
    assert body(api.get(f"/v2/api-keys/{new['id']}", key=admin))["revoked_at"] is not None
    assert api.delete(f"/v2/api-keys/{new['id']}", key=admin).status_code == 204  # idempotent
    assert api.delete("/v2/api-keys/key_01M8KGG0H1398KT48NHQHKJ2H4", key=admin).status_code == 404


def test_keys_are_stored_only_as_hashes(api: Api, keys: dict[str, str]) -> None:
    new = body(api.post("/v2/api-keys", {"name": "h", "role": "viewer"}, key=keys["admin"]))
    item = factory.client("dynamodb").get_item(
        TableName="conductor-test-api-keys", Key={"key_hash": {"S": hash_key(new["key"])}}
    )["Item"]
    assert new["key"] not in json.dumps(item)
    assert item["id"]["S"] == new["id"]


def test_listing_keys_pages_without_loss_or_repeat(api: Api, keys: dict[str, str]) -> None:
    admin = keys["admin"]
    for i in range(7):
        api.post("/v2/api-keys", {"name": f"k{i}", "role": "viewer"}, key=admin)
    seen, cursor = [], None
    for _ in range(20):
        page = body(api.get("/v2/api-keys?limit=3" + (f"&cursor={cursor}" if cursor else ""), key=admin))
        seen += [k["id"] for k in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7 + 3  # plus the three role keys of the fixture
    assert api.get("/v2/api-keys?cursor=forged.cursor", key=admin).status_code == 400


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"name", "role"}),
        ({"name": "", "role": "viewer"}, {"name"}),
        ({"name": "x", "role": "root"}, {"role"}),
        ({"name": "x", "role": "viewer", "admin": True}, {"admin"}),
        (
            {"name": "x", "role": "viewer", "rate_limits": {"read": {"quota": 0, "window_seconds": 60}}},
            {"rate_limits.read.quota"},
        ),
        (
            {"name": "x", "role": "viewer", "rate_limits": {"reads": {"quota": 1, "window_seconds": 1}}},
            {"rate_limits.reads.[key]"},
        ),
    ],
)
def test_validation_details_name_every_bad_field(
    api: Api, keys: dict[str, str], payload: dict[str, Any], fields: set[str]
) -> None:
    response = api.post("/v2/api-keys", payload, key=keys["admin"])
    assert response.status_code == 400
    error = body(response)["error"]
    assert error["code"] == "validation_error"
    assert {d["field"] for d in error["details"]} == fields
    assert all(d["problem"] for d in error["details"])
