"""The client factory: lazy, cached, honouring the endpoint override; X-Ray off in tests."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chalicelib import aws as factory
from chalicelib import deps
from chalicelib.config import Settings, default_name, queue_name
from chalicelib.tracing import init_tracing, reset_tracing


def test_clients_are_cached_per_service(aws: dict) -> None:
    assert factory.client("sqs") is factory.client("sqs")
    assert factory.client("sqs") is not factory.client("dynamodb")


def test_threads_asking_first_at_once_share_one_client(aws: dict) -> None:
    # a batch's workers or the fan-out's posts ask for a client at the same moment: one is made
    from concurrent.futures import ThreadPoolExecutor

    factory.reset()
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda _: factory.client("sqs"), range(8)))
    assert len({id(c) for c in made}) == 1


def test_endpoint_override_reaches_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given AWS_ENDPOINT_URL, When a client is made, Then it talks to that endpoint
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    factory.reset()
    try:
        assert factory.client("sqs").meta.endpoint_url == "http://127.0.0.1:4566"
        explicit = factory.client("apigatewaymanagementapi", endpoint_url="http://127.0.0.1:9")
        assert explicit.meta.endpoint_url == "http://127.0.0.1:9"
    finally:
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        factory.reset()
    assert "amazonaws.com" in factory.client("sqs").meta.endpoint_url


def test_importing_the_app_creates_no_client_and_reads_no_aws_module() -> None:
    # A fresh interpreter: importing app must not import boto3, pynamodb or the X-Ray SDK.
    code = (
        "import sys, app; bad = [m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'pynamodb', 'aws_xray_sdk', 'requests')]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_xray_is_off_outside_lambda_and_on_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env({}).xray_enabled is False
    assert Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "f"}).xray_enabled is True
    assert (
        Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "f", "CONDUCTOR_XRAY": "false"}).xray_enabled is False
    )
    reset_tracing()
    assert init_tracing() is False  # conftest sets CONDUCTOR_XRAY=false


def test_emf_lines_are_written_on_lambda_only_unless_told() -> None:
    assert Settings.from_env({}).emf_enabled is False
    assert Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "f"}).emf_enabled is True
    assert Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "f", "CONDUCTOR_EMF": "false"}).emf_enabled is False
    assert Settings.from_env({"CONDUCTOR_EMF": "true"}).emf_enabled is True


def test_xray_patches_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    # In a fresh interpreter, so the patch does not leak into other tests.
    code = (
        "import os; os.environ['CONDUCTOR_XRAY']='true'; os.environ['AWS_XRAY_SDK_ENABLED']='true';"
        "from chalicelib.tracing import init_tracing; assert init_tracing();"
        "from aws_xray_sdk.core.patcher import _PATCHED_MODULES; print(sorted(_PATCHED_MODULES))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    # aws-xray-sdk instruments boto3 through botocore, so "boto3" is recorded as botocore.
    assert out.stdout.strip() == "['botocore', 'requests']"
    assert "Warning" not in out.stderr and "warning" not in out.stderr


def test_settings_name_every_resource_per_stage() -> None:
    settings = Settings.from_env({"CONDUCTOR_STAGE": "prod"})
    assert settings.tables["retry_jobs"] == "conductor-prod-retry-jobs"
    assert settings.queues["webhook_deliveries"] == "conductor-prod-webhook-deliveries"
    assert default_name("dev", "dead_letters") == "conductor-dev-dead-letters"
    assert queue_name("events") == "conductor-test-events"


def test_deps_reset_forgets_services(aws: dict) -> None:
    first = deps.event_bus()
    deps.reset()
    assert deps.event_bus() is not first


def test_every_table_model_uses_the_one_dynamodb_client(aws: dict[str, str]) -> None:
    from chalicelib import aws as factory
    from chalicelib.store.models import DeliveryRecord, RetryJobRecord, WebhookRecord
    from chalicelib.store.retry_jobs import RetryJobStore
    from chalicelib.store.webhooks import DeliveryStore, WebhookStore

    # Given three stores, each binding its own pynamodb model(s)
    RetryJobStore(), WebhookStore(), DeliveryStore()
    shared = factory.client("dynamodb")
    # Then no model made a botocore session and client of its own
    for model in (RetryJobRecord, WebhookRecord, DeliveryRecord):
        assert model._get_connection().connection.client is shared
    assert RetryJobStore().get("rty_missing") is None  # and it answers through it


def test_a_cold_schedule_read_loads_neither_boto3_nor_requests() -> None:
    # A cold container's first GET (bench/first_request.py, a fresh interpreter against a moto
    # server on 127.0.0.1): botocore is the SDK it needs; boto3 (s3transfer among it) and the
    # outbound HTTP session (requests) were ~45 ms of it and serve no read. The schedule is a
    # cron one, so its words (cron-descriptor, ~50 ms) would show here if a read made them.
    out = subprocess.run(
        [sys.executable, "bench/first_request.py", "--modules"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert {"botocore", "pynamodb", "chalicelib"} <= loaded
    # nor the wording of its cron expression (made when it was written)
    assert not loaded & {"boto3", "s3transfer", "requests", "aws_xray_sdk", "pydantic", "cron_descriptor"}
