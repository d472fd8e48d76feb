"""Deployment artifacts: the infra stack in moto's CloudFormation matches what the app names,
the IAM policy covers exactly the stage's resources, the packaged template is complete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chalicelib.config import QUEUES, TABLES, default_name
from infra import build
from infra.template import load_template

ROOT = Path(__file__).resolve().parents[2]
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_infra_stack_creates_what_the_app_configuration_names(stage: str) -> None:
    with mock_aws():
        # Given the template deployed as a CloudFormation stack
        outputs = build.deploy_infra(stage, boto3.client("cloudformation"))
        # Then every table and queue the stage's Lambdas are told about exists, with its indexes
        env = CONFIG["stages"][stage]["environment_variables"]
        dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
        assert sorted(dynamodb.list_tables()["TableNames"]) == sorted(
            env[variable] for variable in TABLES.values()
        )
        template = load_template()["Resources"]
        for spec in template.values():
            if spec["Type"] == "AWS::DynamoDB::Table":
                name = spec["Properties"]["TableName"]["Fn::Sub"].replace("${Stage}", stage)
                table = dynamodb.describe_table(TableName=name)["Table"]
                assert sorted(i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])) == sorted(
                    i["IndexName"] for i in spec["Properties"].get("GlobalSecondaryIndexes", [])
                )
        for variable in QUEUES.values():
            url = sqs.get_queue_url(QueueName=env[variable])["QueueUrl"]
            redrive = json.loads(
                sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"][
                    "RedrivePolicy"
                ]
            )
            assert redrive["deadLetterTargetArn"].endswith(env[variable] + "-dlq")
        assert outputs["EventsQueueUrl"].endswith(f"conductor-{stage}-events")
        # And updating with no change is fine, destroying keeps the tables unless asked
        build.deploy_infra(stage, boto3.client("cloudformation"))
        build.destroy_infra(stage, boto3.client("cloudformation"), dynamodb, delete_tables=True)
        assert dynamodb.list_tables()["TableNames"] == []


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_committed_policies_are_the_generated_least_privilege_ones(stage: str) -> None:
    committed = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    assert committed == build.policy(stage), "run: python -m infra.build policy --stage " + stage
    config = CONFIG["stages"][stage]
    assert config["autogen_policy"] is False and config["iam_policy_file"] == f"policy-{stage}.json"
    resources = {
        r
        for statement in committed["Statement"]
        for r in (
            [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        )
    }
    for logical in TABLES:
        arn = f"arn:aws:dynamodb:*:*:table/{default_name(stage, logical)}"
        assert arn in resources and f"{arn}/index/*" in resources
    for logical in QUEUES:
        assert f"arn:aws:sqs:*:*:{default_name(stage, logical)}" in resources
        assert f"arn:aws:sqs:*:*:{default_name(stage, logical)}-dlq" in resources
    assert not any(r.endswith(":*") and ("dynamodb" in r or "sqs" in r) for r in resources)
    assert not any(s["Action"] == "*" or "dynamodb:Scan" in s["Action"] for s in committed["Statement"])


def test_merge_template_adds_alarms_throttling_and_queue_dependencies() -> None:
    merged = build.merge_template("prod")
    resources = merged["Resources"]
    alarms = [k for k, v in resources.items() if v.get("Type") == "AWS::CloudWatch::Alarm"]
    assert len([a for a in alarms if a.endswith("DepthAlarm")]) == len(QUEUES)
    settings = resources["RestAPI"]["Properties"]["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] == 500 and settings["ThrottlingBurstLimit"] == 1000
    assert resources["RunRetryAttempts"]["DependsOn"] == ["RetriesQueue"]
    assert merged["Parameters"]["Stage"]["Default"] == "prod"


def test_alarms_notify_a_topic_and_every_function_keeps_its_logs_for_a_while() -> None:
    merged = build.merge_template("prod")
    resources = merged["Resources"]
    alarms = [v for v in resources.values() if v.get("Type") == "AWS::CloudWatch::Alarm"]
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert resources["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"
    assert merged["Parameters"]["AlarmEmail"]["Default"] == ""
    groups = {k: v for k, v in resources.items() if v.get("Type") == "AWS::Logs::LogGroup"}
    assert len(groups) == len(build.function_names()) == 15
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values())
    assert merged["Parameters"]["LogRetentionDays"]["Default"] == 30


def test_the_metric_alarms_read_what_conductor_emits() -> None:
    from chalicelib.domain import emf

    resources = build.merge_template("prod")["Resources"]
    wanted = {
        "Api5xxRateAlarm",
        "RetryDeadLetterRateAlarm",
        "DeliveryFailureRateAlarm",
        "ScheduleLatenessAlarm",
        "RecoveredWorkAlarm",
    }
    assert wanted <= set(resources)
    emitted = {name for name, _ in emf.NAMES.values()} | {
        "Requests",
        "Errors5xx",
        "Latency",
        "ScheduleRunLateness",
    }  # services/metrics, runs
    for name in wanted:
        props = resources[name]["Properties"]
        stats = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
        read = [s["MetricName"] for s in stats] or [props["MetricName"]]
        assert set(read) <= emitted, (name, read)  # a renamed metric would silence its alarm
        for metric in stats or [props]:
            assert metric["Namespace"] == "Conductor"
            assert metric["Dimensions"] == [{"Name": "Stage", "Value": {"Ref": "Stage"}}]
        assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "AlarmTopic"}]
        assert props["TreatMissingData"] == "notBreaching"
    # the rate alarms return one expression: the bad share, once enough were counted
    rate = resources["Api5xxRateAlarm"]["Properties"]["Metrics"]
    assert [m["Id"] for m in rate if m["ReturnData"]] == ["rate"]


def test_every_function_has_a_timeout_and_consumers_have_reserved_concurrency() -> None:
    import app

    for stage in ("dev", "prod"):
        functions = CONFIG["stages"][stage]["lambda_functions"]
        for source in app.app.event_sources:
            assert functions[source.name]["reserved_concurrency"] >= 1, source.name
            assert functions[source.name]["lambda_timeout"] <= 60
        for name in ("websocket_connect", "websocket_message", "websocket_disconnect"):
            assert functions[name]["lambda_timeout"] == 10
    assert CONFIG["xray"] is True


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make package STAGE=prod` builds, built here: the merge template, `chalice package`
    (its deployment package is cached under .chalice/deployments), then cfn-lint on the result."""
    out = tmp_path_factory.mktemp("package")
    tools = Path(sys.executable).parent
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    merge = subprocess.run(
        [sys.executable, "-m", "infra.build", "merge", "--stage", "prod"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    (out / "merge.json").write_text(merge.stdout)
    subprocess.run(
        [
            str(tools / "chalice"),
            "package",
            "--stage",
            "prod",
            "--merge-template",
            str(out / "merge.json"),
            str(out / "sam"),
        ],
        cwd=ROOT,
        env={**env, "CONDUCTOR_STAGE": "prod"},
        capture_output=True,
        check=True,
        timeout=600,
    )
    lint = subprocess.run(
        [str(tools / "cfn-lint"), str(out / "sam" / "sam.json")],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    return out / "sam" / "sam.json"


def test_the_packaged_template_is_complete(packaged: Path) -> None:
    template = json.loads(packaged.read_text())
    resources = template["Resources"]
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
    assert all(f["Properties"]["Tracing"] == "Active" for f in functions.values())
    # python3.13 (Amazon Linux 2023; python3.11's Amazon Linux 2 ended 2026-06-30) on Graviton
    assert {f["Properties"]["Runtime"] for f in functions.values()} == {"python3.13"}
    assert {tuple(f["Properties"]["Architectures"]) for f in functions.values()} == {("arm64",)}
    # and the package carries the compiled wheels built for it (pydantic-core, wrapt, ...)
    with zipfile.ZipFile(packaged.parent / "deployment.zip") as package:
        compiled = [n for n in package.namelist() if n.endswith(".so")]
    assert compiled and all(n.endswith(".cpython-313-aarch64-linux-gnu.so") for n in compiled)
    assert any(n.startswith("pydantic_core/") for n in compiled)
    assert all(f["Properties"].get("Role") for f in functions.values())  # our policy, not autogen
    infra = {k for k, v in load_template()["Resources"].items()}
    assert infra <= set(resources)  # app and infra in one template
    # the API knows the WebSocket URL (the dashboard's live updates), among the stage's settings
    variables = functions["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["CONDUCTOR_WS_URL"]["Fn::Sub"].startswith("wss://${WebsocketAPI}.execute-api")
    assert variables["CONDUCTOR_STAGE"] == "prod" and "CONDUCTOR_CURSOR_SECRET_NAME" in variables
    assert {f"{name}LogGroup" for name in functions} <= set(resources)
    consumers = [f for f in functions.values() if f["Properties"].get("Events")]
    assert all(
        f.get("DependsOn")
        for f in consumers
        if any(e["Type"] == "SQS" for e in f["Properties"]["Events"].values())
    )
    # every SQS trigger reports partial batch failures (chalice sets none: the merge does), so
    # a poison message returns alone and its batch-mates are not received again
    sqs_events = [e for f in consumers for e in f["Properties"]["Events"].values() if e["Type"] == "SQS"]
    assert len(sqs_events) == 10
    assert all(
        e["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and e["Properties"]["Queue"]
        for e in sqs_events
    )


def test_admin_key_for_a_deployed_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import deps
    from chalicelib.domain.keys import hash_key

    monkeypatch.setattr(os, "environ", dict(os.environ))  # admin_key adopts the stage's env
    try:
        with mock_aws():
            build.deploy_infra("dev", boto3.client("cloudformation"))
            key = build.admin_key("dev", "first admin")
            item = boto3.client("dynamodb").get_item(
                TableName="conductor-dev-api-keys", Key={"key_hash": {"S": hash_key(key)}}
            )["Item"]
            assert item["role"]["S"] == "admin" and key.startswith("cnd_")
    finally:
        deps.reset()  # forget the dev stage's settings and clients
