"""The Python client's transport and the listener, against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import io
import json

import pytest
import requests
from conductor_client import Conductor, ConductorError
from conductor_client.listen import Listener
from standardwebhooks import Webhook

from tests.functional.receivers import receiver

KEY = "cnd_unit-test-key-0123456789abcdef"


def client(url: str, sleeps: list[float], **options: object) -> Conductor:
    return Conductor(url, KEY, sleep=sleeps.append, **options)  # type: ignore[arg-type]


def test_an_error_answer_raises_one_exception_carrying_the_error_shape() -> None:
    with receiver([(404, {"X-Request-Id": "req-1"})]) as server:
        # Given an API that answers 404 (the receiver's body is not the error shape)
        with pytest.raises(ConductorError) as raised:
            client(server.url, []).schedules.get("sch_missing")
    # Then the status is kept, and a body that is not the error shape still gives a clear code
    assert raised.value.status == 404 and raised.value.code == "http_error"
    assert raised.value.request_id == "req-1"


def test_the_error_shape_is_read_into_code_message_and_details() -> None:
    body = {
        "error": {
            "code": "validation_error",
            "message": "The request body is invalid.",
            "details": [{"field": "expression", "problem": "bad"}],
        }
    }
    response = requests.models.Response()
    response.status_code = 400
    response._content = json.dumps(body).encode()
    error = ConductorError.from_response(response)
    assert (error.status, error.code, error.message) == (
        400,
        "validation_error",
        "The request body is invalid.",
    )
    assert error.details == [{"field": "expression", "problem": "bad"}]


def test_429_and_503_are_asked_again_honouring_retry_after() -> None:
    sleeps: list[float] = []
    with receiver([(429, {"Retry-After": "2"}), (503, {}), (200, {})]) as server:
        # When the first answer is 429 with Retry-After: 2, the second a 503 without a header
        answer = client(server.url, sleeps).schedules.get("sch_1")
        calls = len(server.requests)
    # Then the client waited 2 s, then a short backoff, and the third call succeeded
    assert answer == {"status": 200} and calls == 3
    assert sleeps[0] == 2.0 and 0 < sleeps[1] <= 1.0


def test_retries_end_after_max_retries_with_the_last_error() -> None:
    sleeps: list[float] = []
    with receiver([(503, {"Retry-After": "1"})]) as server:
        with pytest.raises(ConductorError) as raised:
            client(server.url, sleeps, max_retries=2).retries.get("rty_1")
        calls = len(server.requests)
    assert raised.value.status == 503 and calls == 3 and sleeps == [1.0, 1.0]


def test_a_retry_after_beyond_the_wait_budget_is_not_waited_for() -> None:
    sleeps: list[float] = []
    with receiver([(429, {"Retry-After": "3600"})]) as server:
        with pytest.raises(ConductorError) as raised:
            client(server.url, sleeps).events.get("evt_1")
        calls = len(server.requests)
    assert raised.value.code == "http_error" and calls == 1 and sleeps == []


def test_without_a_key_the_client_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONDUCTOR_KEY", raising=False)
    with pytest.raises(ConductorError, match="CONDUCTOR_KEY"):
        Conductor("http://127.0.0.1:9")


def test_url_and_key_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDUCTOR_URL", "http://127.0.0.1:9/v2/")
    monkeypatch.setenv("CONDUCTOR_KEY", KEY)
    conductor = Conductor()
    assert conductor.url == "http://127.0.0.1:9"
    assert conductor.http.session.headers["Authorization"] == f"Bearer {KEY}"


def test_listen_verifies_each_delivery_with_standardwebhooks_and_refuses_forgeries() -> None:
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    out = io.StringIO()
    # Given a listener for a known secret (no endpoint is created)
    listener = Listener(Conductor("http://127.0.0.1:9", KEY), port=0, secret=secret, out=out)
    listener.start()
    try:
        url = f"http://127.0.0.1:{listener.port}/"
        body = json.dumps({"id": "evt_1", "type": "custom.hello", "timestamp": "t", "data": {"n": 1}})
        signer = Webhook(secret)
        from datetime import UTC, datetime

        now = datetime.now(UTC)
        headers = {
            "webhook-id": "dlv_1",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signer.sign("dlv_1", now, body),
            "Content-Type": "application/json",
        }
        # When a signed delivery and a forged one arrive
        good = requests.post(url, data=body, headers=headers, timeout=5)
        forged = requests.post(url, data=body.replace('"n": 1', '"n": 2'), headers=headers, timeout=5)
    finally:
        listener.stop()
    # Then the signed one is printed and answered 204, the forgery refused with 401
    assert good.status_code == 204 and forged.status_code == 401
    printed = out.getvalue()
    assert "verified  custom.hello" in printed and "evt_1" in printed
    assert "REFUSED  dlv_1" in printed and listener.received == 1
