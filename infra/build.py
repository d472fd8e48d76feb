"""Deployment artifacts derived from infra/template.yaml, so code, infra and IAM cannot drift.

python -m infra.build policy --stage dev      # least-privilege IAM policy (JSON)
python -m infra.build merge --stage prod      # the template chalice package merges
python -m infra.build deploy-infra --stage dev   # create/update the infra stack (boto3)
python -m infra.build destroy-infra --stage dev [--delete-tables]
python -m infra.build backfill --stage prod   # index keys for items from before an upgrade
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from infra.template import load_template, physical_name

ROOT = Path(__file__).resolve().parent.parent
#: API Gateway stage throttling: the first line, before any Lambda runs (docs/api.md).
THROTTLE_RATE = {"dev": 50, "prod": 500}
THROTTLE_BURST = {"dev": 100, "prod": 1000}


def _names(stage: str) -> tuple[list[str], list[str]]:
    resources = load_template()["Resources"].values()
    return (
        sorted(str(physical_name(r, stage)) for r in resources if r["Type"] == "AWS::DynamoDB::Table"),
        sorted(str(physical_name(r, stage)) for r in resources if r["Type"] == "AWS::SQS::Queue"),
    )


def policy(stage: str) -> dict[str, Any]:
    """Only the stage's tables (and their indexes), queues, the WebSocket management API,
    X-Ray and the functions' own logs."""
    tables, queues = _names(stage)
    table_arns = [f"arn:aws:dynamodb:*:*:table/{t}" for t in tables]
    targets = target_queues(stage)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Tables",
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:Query",
                    "dynamodb:BatchGetItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:DescribeTable",
                    "dynamodb:ConditionCheckItem",
                ],
                "Resource": table_arns + [f"{arn}/index/*" for arn in table_arns],
            },
            {
                "Sid": "Queues",
                "Effect": "Allow",
                "Action": [
                    "sqs:SendMessage",
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueUrl",
                    "sqs:GetQueueAttributes",
                ],
                "Resource": [f"arn:aws:sqs:*:*:{q}" for q in queues],
            },
            {
                "Sid": "WebSocketConnections",
                "Effect": "Allow",
                "Action": ["execute-api:ManageConnections"],
                "Resource": [
                    "arn:aws:execute-api:*:*:*/*/POST/@connections/*",
                    "arn:aws:execute-api:*:*:*/*/GET/@connections/*",
                    "arn:aws:execute-api:*:*:*/*/DELETE/@connections/*",
                ],
            },
            {
                "Sid": "CursorSecret",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                # Secrets Manager appends 6 random characters to the name in the ARN
                "Resource": f"arn:aws:secretsmanager:*:*:secret:conductor-{stage}-cursor-secret-*",
            },
            *(
                [
                    {
                        "Sid": "TargetQueues",
                        "Effect": "Allow",
                        "Action": ["sqs:SendMessage"],
                        "Resource": list(targets),
                    }
                ]
                if targets
                else []
            ),
            {
                "Sid": "Tracing",
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                "Resource": "*",
            },
            {
                "Sid": "Logs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"arn:aws:logs:*:*:log-group:/aws/lambda/conductor-{stage}-*",
            },
        ],
    }


def target_queues(stage: str) -> tuple[str, ...]:
    """The queue ARNs the stage's sqs targets may name (CONDUCTOR_SQS_TARGET_QUEUES in
    .chalice/config.json); the only foreign queues its Lambdas may send to."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    listed = config["stages"][stage]["environment_variables"].get("CONDUCTOR_SQS_TARGET_QUEUES", "")
    return tuple(part.strip() for part in listed.split(",") if part.strip())


def merge_template(stage: str) -> dict[str, Any]:
    """infra/template.yaml for ``stage`` plus what only the packaged app needs: an alarm on every
    dead-letter queue that notifies an SNS topic (with an optional e-mail subscription), a log
    group with a retention per function, the WebSocket URL for the API, and API Gateway's stage
    throttling."""
    template = load_template()
    template["Parameters"]["Stage"]["Default"] = stage
    template["Parameters"]["AlarmEmail"] = {
        "Type": "String",
        "Default": "",
        "Description": "An address the dead-letter alarms write to (empty: none; subscribe to "
        "the AlarmTopic output yourself).",
    }
    template["Parameters"]["LogRetentionDays"] = {
        "Type": "Number",
        "Default": 30,
        "AllowedValues": [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653],
        "Description": "How long the functions' logs are kept.",
    }
    template.setdefault("Conditions", {})["HasAlarmEmail"] = {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }
    resources = template["Resources"]
    resources["AlarmTopic"] = {
        "Type": "AWS::SNS::Topic",
        "Properties": {
            "TopicName": {"Fn::Sub": "conductor-${Stage}-alarms"},
            "Tags": [{"Key": "app", "Value": "conductor"}, {"Key": "stage", "Value": {"Ref": "Stage"}}],
        },
    }
    resources["AlarmEmailSubscription"] = {
        "Type": "AWS::SNS::Subscription",
        "Condition": "HasAlarmEmail",
        "Properties": {
            "TopicArn": {"Ref": "AlarmTopic"},
            "Protocol": "email",
            "Endpoint": {"Ref": "AlarmEmail"},
        },
    }
    template.setdefault("Outputs", {})["AlarmTopic"] = {"Value": {"Ref": "AlarmTopic"}}
    alarms = {}
    for logical, spec in resources.items():
        if spec["Type"] == "AWS::SQS::Queue" and logical.endswith("DeadLetterQueue"):
            alarms[f"{logical}DepthAlarm"] = {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmDescription": f"Messages are waiting in {logical}: something failed "
                    "maxReceiveCount times (see /v2/dlq).",
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateNumberOfMessagesVisible",
                    "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [logical, "QueueName"]}}],
                    "AlarmActions": [{"Ref": "AlarmTopic"}],
                    "OKActions": [{"Ref": "AlarmTopic"}],
                    "Statistic": "Maximum",
                    "Period": 300,
                    "EvaluationPeriods": 1,
                    "Threshold": 0,
                    "ComparisonOperator": "GreaterThanThreshold",
                    "TreatMissingData": "notBreaching",
                },
            }
    resources.update(alarms)
    resources.update(metric_alarms())
    # chalice names queues in SQS triggers by ARN string: make each function wait for its queue
    queue_ids = {
        physical_name(spec, stage): logical
        for logical, spec in resources.items()
        if spec["Type"] == "AWS::SQS::Queue"
    }
    # and report partial batch failures: Lambda then returns only the records a handler names
    # in batchItemFailures to the queue (chalice sets no FunctionResponseTypes)
    for function, queue in sqs_triggers(stage).items():
        resources[function] = {
            "DependsOn": [queue_ids[queue]],
            "Properties": {
                "Events": {
                    f"{function}SqsEventSource": {
                        "Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
                    }
                }
            },
        }
    for function in function_names():
        resources[f"{function}LogGroup"] = {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{{function}}}"},
                "RetentionInDays": {"Ref": "LogRetentionDays"},
            },
        }
    # the dashboard's live updates: the API answers the WebSocket URL (GET /v2/dashboard/session)
    resources["APIHandler"] = {
        "Properties": {
            "Environment": {
                "Variables": {
                    "CONDUCTOR_WS_URL": {
                        "Fn::Sub": "wss://${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"
                    }
                }
            }
        }
    }
    resources["RestAPI"] = {
        "Properties": {
            "MethodSettings": [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": THROTTLE_RATE.get(stage, 50),
                    "ThrottlingBurstLimit": THROTTLE_BURST.get(stage, 100),
                    "MetricsEnabled": True,
                }
            ]
        }
    }
    return template


def _stat(metric_id: str, name: str, period: int) -> dict[str, Any]:
    """One of Conductor's EMF metrics (domain/emf.py), the stage's total, summed per period."""
    return {
        "Id": metric_id,
        "ReturnData": False,
        "MetricStat": {
            "Metric": {
                "Namespace": "Conductor",
                "MetricName": name,
                "Dimensions": [{"Name": "Stage", "Value": {"Ref": "Stage"}}],
            },
            "Period": period,
            "Stat": "Sum",
        },
    }


def _rate_alarm(
    description: str, bad: str, others: list[str], percent: int, minimum: int, period: int
) -> dict[str, Any]:
    """``bad`` as a percentage of ``bad`` + ``others`` over ``period``, alarming above
    ``percent`` once at least ``minimum`` were counted (a single failure of two is no storm)."""
    ids = [f"m{i}" for i in range(len(others) + 1)]
    total = " + ".join(f"FILL({i}, 0)" for i in ids)
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description,
            "Metrics": [_stat(i, name, period) for i, name in zip(ids, [bad, *others], strict=True)]
            + [
                {"Id": "total", "Expression": total, "ReturnData": False},
                {
                    "Id": "rate",
                    "Expression": f"IF(total >= {minimum}, 100 * FILL(m0, 0) / total, 0)",
                    "Label": f"{bad} %",
                    "ReturnData": True,
                },
            ],
            "Threshold": percent,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": "AlarmTopic"}],
            "OKActions": [{"Ref": "AlarmTopic"}],
        },
    }


def metric_alarms() -> dict[str, Any]:
    """The alarms on Conductor's own CloudWatch metrics (EMF): each pages the AlarmTopic."""

    def single(
        description: str, name: str, statistic: dict[str, str], threshold: float, period: int
    ) -> dict[str, Any]:
        return {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": description,
                "Namespace": "Conductor",
                "MetricName": name,
                "Dimensions": [{"Name": "Stage", "Value": {"Ref": "Stage"}}],
                **statistic,
                "Period": period,
                "EvaluationPeriods": 1,
                "Threshold": threshold,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": "AlarmTopic"}],
                "OKActions": [{"Ref": "AlarmTopic"}],
            },
        }

    return {
        "Api5xxRateAlarm": _rate_alarm(
            "More than 5 % of API requests answered 5xx in 5 minutes (at least 20 requests): "
            "see the APIHandler's logs by request id.",
            "Errors5xx",
            ["Requests"],
            5,
            20,
            300,
        ),
        "RetryDeadLetterRateAlarm": _rate_alarm(
            "More than 20 % of finished retry jobs gave up in 15 minutes: a downstream service "
            "is failing (GET /v2/errors/stats by service; the console's Errors view).",
            "RetryDeadLettered",
            ["RetrySucceeded"],
            20,
            10,
            900,
        ),
        "DeliveryFailureRateAlarm": _rate_alarm(
            "More than 20 % of webhook deliveries failed for good in 15 minutes: an endpoint is "
            "down (GET /v2/metrics/webhooks; the console's Webhooks view).",
            "DeliveriesFailed",
            ["DeliveriesDelivered"],
            20,
            10,
            900,
        ),
        "ScheduleLatenessAlarm": single(
            "Schedule runs started more than 60 s after their time (p99, 5 minutes): the tick "
            "or the dispatch workers are behind (docs/scheduler.md).",
            "ScheduleRunLateness",
            {"ExtendedStatistic": "p99"},
            60,
            300,
        ),
        "RecoveredWorkAlarm": single(
            "The reconciler recovered work whose next step was overdue (a lost message or a "
            "worker that died): it is done now, but find out why (its log lines name each item).",
            "RecoveredWork",
            {"Statistic": "Sum"},
            0,
            300,
        ),
    }


def function_names() -> list[str]:
    """The packaged functions' logical ids, as chalice names them (CamelCase)."""
    import app  # noqa: PLC0415

    names = ["APIHandler"] + [
        "".join(part.title() for part in source.name.split("_")) for source in app.app.event_sources
    ]
    return names + [
        f"Websocket{kind}"
        for kind, route in (("Connect", "$connect"), ("Message", "$default"), ("Disconnect", "$disconnect"))
        if route in app.app.websocket_handlers
    ]


def sqs_triggers(stage: str) -> dict[str, str]:
    """The packaged function (CamelCase, as chalice names it) -> the queue it consumes in
    ``stage`` (the handlers named their queues for the stage ``app`` was imported under)."""
    import app  # noqa: PLC0415 - the handlers declare their queues
    from chalicelib.config import QUEUES, default_name, queue_name  # noqa: PLC0415

    in_stage = {}
    for logical in QUEUES:
        in_stage[queue_name(logical)] = default_name(stage, logical)
        in_stage[queue_name(logical) + "-dlq"] = default_name(stage, logical) + "-dlq"
    return {
        "".join(part.title() for part in source.name.split("_")): in_stage[source.queue]
        for source in app.app.event_sources
        if getattr(source, "queue", None)
    }


def report_batch_failures(stage: str, lambda_client: Any) -> list[str]:
    """After ``chalice deploy`` (which sets no FunctionResponseTypes): every SQS trigger of the
    stage's functions reports partial batch failures. Without it Lambda would take a handler's
    answer naming failed records for success and delete them. Returns the mappings changed."""
    import app  # noqa: PLC0415 - the handlers declare their queues

    changed = []
    for source in app.app.event_sources:
        if not getattr(source, "queue", None):
            continue
        function = f"conductor-{stage}-{source.name}"
        paginator = lambda_client.get_paginator("list_event_source_mappings")
        for page in paginator.paginate(FunctionName=function):
            for mapping in page["EventSourceMappings"]:
                if "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []):
                    continue
                lambda_client.update_event_source_mapping(
                    UUID=mapping["UUID"], FunctionResponseTypes=["ReportBatchItemFailures"]
                )
                changed.append(f"{function} <- {mapping['EventSourceArn']}")
    return changed


def deploy_infra(stage: str, cfn: Any) -> dict[str, str]:
    """Create or update the stack ``conductor-<stage>-infra``; return its outputs."""
    name = f"conductor-{stage}-infra"
    body = (ROOT / "infra" / "template.yaml").read_text()
    params = [{"ParameterKey": "Stage", "ParameterValue": stage}]
    try:
        cfn.describe_stacks(StackName=name)
        exists = True
    except cfn.exceptions.ClientError:
        exists = False
    if exists:
        try:
            cfn.update_stack(StackName=name, TemplateBody=body, Parameters=params)
            cfn.get_waiter("stack_update_complete").wait(StackName=name)
        except cfn.exceptions.ClientError as exc:
            if "No updates are to be performed" not in str(exc):
                raise
    else:
        cfn.create_stack(StackName=name, TemplateBody=body, Parameters=params)
        cfn.get_waiter("stack_create_complete").wait(StackName=name)
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def destroy_infra(stage: str, cfn: Any, dynamodb: Any, delete_tables: bool) -> list[str]:
    """Delete the stack (queues go; tables stay: DeletionPolicy Retain) and, if asked, the
    tables too. Returns what was deleted."""
    name = f"conductor-{stage}-infra"
    cfn.delete_stack(StackName=name)
    cfn.get_waiter("stack_delete_complete").wait(StackName=name)
    deleted = [name]
    if delete_tables:
        for table in _names(stage)[0]:
            try:
                dynamodb.delete_table(TableName=table)
                deleted.append(table)
            except dynamodb.exceptions.ResourceNotFoundException:
                pass
    return deleted


def _stage_environment(stage: str) -> None:
    import os  # noqa: PLC0415

    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    os.environ.update(config["stages"][stage]["environment_variables"])


def admin_key(stage: str, name: str) -> str:
    """Create an admin key in a deployed stage's table (there is no bootstrap key on AWS)."""
    _stage_environment(stage)
    from chalicelib import deps  # noqa: PLC0415

    deps.reset()
    return deps.api_keys().create(name, "admin")[1]


def backfill(stage: str) -> dict[str, int]:
    """Index keys for items written before an upgrade added them (chalicelib/store/backfill.py)."""
    _stage_environment(stage)
    from chalicelib.store.backfill import backfill as run  # noqa: PLC0415

    return dict(run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.build")
    parser.add_argument(
        "command",
        choices=[
            "policy",
            "merge",
            "deploy-infra",
            "destroy-infra",
            "admin-key",
            "backfill",
            "batch-failures",
        ],
    )
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--delete-tables", action="store_true")
    parser.add_argument("--name", default="first admin")
    args = parser.parse_args(argv)
    if args.command == "admin-key":
        print(admin_key(args.stage, args.name))
    elif args.command == "backfill":
        print(json.dumps(backfill(args.stage), indent=2))
    elif args.command == "policy":
        print(json.dumps(policy(args.stage), indent=2))
    elif args.command == "merge":
        print(json.dumps(merge_template(args.stage), indent=2))
    else:
        import boto3  # noqa: PLC0415

        if args.command == "batch-failures":
            print("\n".join(report_batch_failures(args.stage, boto3.client("lambda"))))
        elif args.command == "deploy-infra":
            outputs = deploy_infra(args.stage, boto3.client("cloudformation"))
            print(json.dumps(outputs, indent=2))
        else:
            print(
                "\n".join(
                    destroy_infra(
                        args.stage,
                        boto3.client("cloudformation"),
                        boto3.client("dynamodb"),
                        args.delete_tables,
                    )
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
