"""infra/template.yaml is the single source of truth: provisioning reads it, config names match it."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib import aws as factory
from chalicelib.config import QUEUES, TABLES, default_name
from infra.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def test_every_template_resource_is_created(aws: dict[str, str]) -> None:
    # Given the template, When provisioned for stage "test", Then each table and queue exists
    template = load_template()
    assert set(aws) == set(template["Resources"])
    dynamodb = factory.client("dynamodb")
    assert sorted(dynamodb.list_tables()["TableNames"]) == sorted(
        default_name("test", logical) for logical in TABLES
    )


def test_tables_have_their_indexes_ttl_and_pitr(aws: dict[str, str]) -> None:
    dynamodb = factory.client("dynamodb")
    template = load_template()["Resources"]
    for logical, spec in template.items():
        if spec["Type"] != "AWS::DynamoDB::Table":
            continue
        props = spec["Properties"]
        name = aws[logical]
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == props["KeySchema"], name
        wanted = sorted(i["IndexName"] for i in props.get("GlobalSecondaryIndexes", []))
        assert sorted(i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])) == wanted
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if "TimeToLiveSpecification" in props:
            assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}, name
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED", name


def test_every_queue_has_a_dlq_and_a_long_enough_visibility_timeout(aws: dict[str, str]) -> None:
    sqs = factory.client("sqs")
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    timeouts = {
        name: spec.get("lambda_timeout", config["lambda_timeout"])
        for name, spec in config["stages"]["dev"]["lambda_functions"].items()
    }
    import app as app_module

    consumer_timeout = {
        s.queue.removeprefix("conductor-test-"): timeouts.get(s.name, config["lambda_timeout"])
        for s in app_module.app.event_sources
        if hasattr(s, "queue")
    }
    for logical in QUEUES:
        name = default_name("test", logical)
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"].endswith(f":{name}-dlq")
        assert redrive["maxReceiveCount"] == 5
        consumer = consumer_timeout.get(logical.replace("_", "-"), config["lambda_timeout"])
        assert int(attributes["VisibilityTimeout"]) >= 6 * consumer, name


def test_chalice_config_names_exactly_the_template_resources() -> None:
    # Drift guard: every stage's environment names the template's physical names for that stage.
    template = load_template()["Resources"]
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    for stage, spec in config["stages"].items():
        env = spec["environment_variables"]
        names = {
            r["Properties"]
            .get("TableName", r["Properties"].get("QueueName"))["Fn::Sub"]
            .replace("${Stage}", stage)
            for r in template.values()
            if r["Type"] != "AWS::SecretsManager::Secret"
        }
        for logical, variable in {**TABLES, **QUEUES}.items():
            assert env[variable] == default_name(stage, logical)
            assert env[variable] in names, (stage, variable)
        secret = template["CursorSecret"]["Properties"]["Name"]["Fn::Sub"].replace("${Stage}", stage)
        assert env["CONDUCTOR_CURSOR_SECRET_NAME"] == secret
        assert env["CONDUCTOR_STAGE"] == stage
    assert config["xray"] is True


def test_provisioning_twice_changes_nothing(aws: dict[str, str]) -> None:
    from devserver.provision import provision

    assert provision(factory.client("dynamodb"), factory.client("sqs"), "test") == aws
