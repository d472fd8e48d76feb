"""Create the resources of ``infra/template.yaml`` through the AWS APIs (moto's, locally).

The template is read, not copied: a table or queue added there appears in `make run` and in the
tests without touching this file. Supported: ``AWS::DynamoDB::Table`` and ``AWS::SQS::Queue``, the
intrinsics the template uses (``Ref``, ``Fn::Sub``, ``Fn::GetAtt ...Arn``). TTL and point-in-time
recovery are switched on with their own calls, since moto ignores them inside CreateTable.
"""

from __future__ import annotations

import json
import re
from typing import Any

from chalicelib.store.pattern_sets import READY
from infra.template import load_template


class _Resolver:
    def __init__(self, template: dict[str, Any], parameters: dict[str, str]) -> None:
        self.params = {
            name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()
        }
        self.params.update(parameters)
        self.physical: dict[str, str] = {}
        self.arns: dict[str, str] = {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            name = value["Ref"]
            return self.params[name] if name in self.params else self.physical[name]
        if set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: self.params[m.group(1)], value["Fn::Sub"])
        if set(value) == {"Fn::GetAtt"}:
            logical, attribute = value["Fn::GetAtt"]
            if attribute != "Arn":
                raise ValueError(f"unsupported attribute {logical}.{attribute}")
            return self.arns[logical]
        return {k: self.resolve(v) for k, v in value.items()}


def provision(dynamodb: Any, sqs: Any, stage: str, template: dict[str, Any] | None = None) -> dict[str, str]:
    """Create every table and queue for ``stage``; return logical resource id -> physical name.

    Idempotent: resources that exist already are left as they are.
    """
    template = template or load_template()
    resolver = _Resolver(template, {"Stage": stage})
    resources = template["Resources"]
    # Queues without a RedrivePolicy first, so dead-letter targets exist before their sources.
    order = sorted(
        resources,
        key=lambda n: (
            resources[n]["Type"] != "AWS::SQS::Queue",
            "RedrivePolicy" in resources[n].get("Properties", {}),
        ),
    )
    for logical in order:
        spec = resources[logical]
        props = resolver.resolve(spec.get("Properties", {}))
        if spec["Type"] == "AWS::SQS::Queue":
            _create_queue(sqs, logical, props, resolver)
        elif spec["Type"] == "AWS::DynamoDB::Table":
            if _create_table(dynamodb, props) and logical == "SubscriptionsTable":
                # made empty: every pattern's set is complete (store/pattern_sets.py)
                dynamodb.put_item(
                    TableName=props["TableName"],
                    Item={"pattern": {"S": READY[0]}, "subscriber": {"S": READY[1]}},
                )
            resolver.physical[logical] = props["TableName"]
        elif spec["Type"] == "AWS::SecretsManager::Secret":
            # not created locally: local and test runs make their keys per process
            resolver.physical[logical] = props["Name"]
        else:
            raise ValueError(f"{logical}: {spec['Type']} is not provisioned locally")
    return dict(resolver.physical)


def _create_queue(sqs: Any, logical: str, props: dict[str, Any], resolver: _Resolver) -> None:
    attributes = {
        k: str(props[k])
        for k in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
        if k in props
    }
    if "RedrivePolicy" in props:
        policy = props["RedrivePolicy"]
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": policy["deadLetterTargetArn"],
                "maxReceiveCount": int(policy["maxReceiveCount"]),
            }
        )
    url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    resolver.physical[logical] = props["QueueName"]
    resolver.arns[logical] = arn


def _create_table(dynamodb: Any, props: dict[str, Any]) -> bool:
    """Create a table as the template says; False if it existed already."""
    name = props["TableName"]
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    try:
        dynamodb.create_table(**request)
    except dynamodb.exceptions.ResourceInUseException:
        return False
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    pitr = props.get("PointInTimeRecoverySpecification", {})
    if pitr.get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    return True
