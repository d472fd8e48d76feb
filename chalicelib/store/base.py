"""Binding pynamodb models to the configured tables and endpoint, lazily.

Model classes are declared with placeholder table names; ``bind`` points one at the table the
settings name (and at moto when ``AWS_ENDPOINT_URL`` is set) just before first use, so no
environment is read at import time and tests can rebind after changing it.
"""

from __future__ import annotations

from typing import Any

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.tracing import init_tracing

_bound: dict[type, tuple[str, str | None, str]] = {}


def bind(model: Any, logical_table: str) -> Any:
    """Point ``model`` at the physical table for ``logical_table``; cheap when already bound."""
    settings = get_settings()
    target = (settings.tables[logical_table], settings.endpoint_url, settings.region)
    if _bound.get(model) != target:
        init_tracing()
        model.Meta.table_name, model.Meta.host, model.Meta.region = target
        model._connection = None  # pynamodb caches its connection per class
        # pynamodb makes a botocore session and client per model class: a cold container paid
        # one per table it touched (25-60x a second client on a shared session). Every model
        # uses the one DynamoDB client instead, made once per container.
        model._get_connection().connection._client = aws.client("dynamodb")
        _bound[model] = target
    return model


def unbind_all() -> None:
    """Forget every binding (tests that switch environments)."""
    _bound.clear()
