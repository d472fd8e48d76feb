"""infra/template.yaml, read once for everyone who needs it: the local runtime provisions from it,
the deploy tooling builds the IAM policy and the packaged template from it, the tests check the
configuration against it. CloudFormation's short tags become their ``Fn::`` forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation's short tags into their ``Fn::`` forms."""


def _tag(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _short, _long in {
    "Ref": "Ref",
    "Sub": "Fn::Sub",
    "GetAtt": "Fn::GetAtt",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "If": "Fn::If",
}.items():
    _CfnLoader.add_constructor(f"!{_short}", _tag(_long))


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


#: The property that names each kind of resource.
NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SecretsManager::Secret": "Name",
}


def physical_name(spec: dict[str, Any], stage: str) -> str | None:
    """A resource's name in ``stage`` (``conductor-${Stage}-events`` -> ``conductor-prod-events``)."""
    name_property = NAME_PROPERTY.get(spec["Type"])
    if name_property is None:
        return None
    return str(spec["Properties"][name_property]["Fn::Sub"]).replace("${Stage}", stage)
