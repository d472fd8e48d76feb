"""The dashboard's files and its session endpoint, through the Chalice app under moto."""

from __future__ import annotations

import dataclasses
import json

import pytest

from chalicelib.api import dashboard, web
from chalicelib.api.web import ASSETS
from chalicelib.config import Settings, get_settings
from tests.conftest import Api


@pytest.fixture
def websocket_url(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """A stage configured with CONDUCTOR_WS_URL (read once per container, like every setting)."""
    url = "wss://ws.example.test/api"
    configured = dataclasses.replace(get_settings(), websocket_url=url)
    for module in (dashboard, web):
        monkeypatch.setattr(module, "get_settings", lambda: configured)
    return url


def test_the_page_and_each_of_its_files_are_served_with_a_strict_policy(api: Api) -> None:
    page = api.get("/dashboard", key=None)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.body.decode()
    # relative references only, so it works under an API Gateway stage path (/api/dashboard) too
    assert 'src="dashboard/app.js"' in html and 'href="dashboard/dashboard.css"' in html
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]
    for name, content_type in ASSETS.items():
        asset = api.get(f"/dashboard/{name}", key=None)
        assert asset.status_code == 200, name
        assert asset.headers["Content-Type"] == content_type
        assert asset.headers["X-Content-Type-Options"] == "nosniff"
    app_js = api.get("/dashboard/app.js", key=None).body.decode()
    assert 'from "./api.js"' in app_js


@pytest.mark.parametrize("name", ["nope.js", "..%2Fapp.py", "dashboard.html.bak"])
def test_no_other_file_is_served(api: Api, name: str) -> None:
    response = api.get(f"/dashboard/{name}", key=None)
    assert response.status_code == 404
    assert json.loads(response.body)["error"]["code"] == "not_found"


def test_session_says_who_is_signed_in_and_where_to_subscribe(
    api: Api, keys: dict[str, str], websocket_url: str
) -> None:
    for role in ("viewer", "operator", "admin"):
        response = api.get("/v2/dashboard/session", key=keys[role])
        assert response.status_code == 200
        session = json.loads(response.body)
        assert session["key"]["role"] == role and session["key"]["name"] == f"test {role}"
        assert session["key"]["id"].startswith("key_") and "cnd_" not in response.body.decode()
        assert session["websocket_url"] == websocket_url
    page = api.get("/dashboard", key=None)
    assert f"connect-src 'self' {websocket_url};" in page.headers["Content-Security-Policy"]


def test_session_needs_a_valid_key(api: Api) -> None:
    assert api.get("/v2/dashboard/session", key=None).status_code == 401
    bad = api.get("/v2/dashboard/session", key="cnd_wrong")
    assert bad.status_code == 401 and json.loads(bad.body)["error"]["code"] == "unauthorized"


def test_without_a_websocket_url_the_session_says_so(api: Api) -> None:
    session = json.loads(api.get("/v2/dashboard/session").body)
    assert session["websocket_url"] is None


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({"CONDUCTOR_WS_ENDPOINT": "http://127.0.0.1:8001"}, "ws://127.0.0.1:8001"),
        (
            {"CONDUCTOR_WS_ENDPOINT": "https://abc.execute-api.eu-west-1.amazonaws.com/api"},
            "wss://abc.execute-api.eu-west-1.amazonaws.com/api",
        ),
        (
            {"CONDUCTOR_WS_ENDPOINT": "http://127.0.0.1:8001", "CONDUCTOR_WS_URL": "wss://ws.example/x"},
            "wss://ws.example/x",
        ),
        ({}, None),
    ],
)
def test_the_websocket_url_comes_from_the_stage(env: dict[str, str], url: str | None) -> None:
    assert Settings.from_env(env).websocket_url == url
