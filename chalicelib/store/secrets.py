"""Where the cursor-signing key comes from: the stage's secret, or a random key per process."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from chalicelib.config import Settings


def cursor_secret(settings: Settings, secretsmanager: Callable[[], Any]) -> str:
    """The key of cursor MACs.

    Deployed stages read the random secret the infra stack generated (Secrets Manager) and refuse
    to sign cursors without one; local and test runs make a random key per process. Never a
    string derived from public values: anyone who reads the code could forge cursors with it.
    """
    if settings.cursor_secret:
        return settings.cursor_secret
    if settings.deployed:
        if not settings.cursor_secret_name:
            raise RuntimeError(
                "CONDUCTOR_CURSOR_SECRET_NAME is not set: a deployed stage needs the "
                "cursor secret its infra stack creates"
            )
        value = secretsmanager().get_secret_value(SecretId=settings.cursor_secret_name)["SecretString"]
        if len(value) < 32:
            raise RuntimeError("the cursor secret is shorter than 32 characters")
        return str(value)
    return secrets.token_urlsafe(32)
