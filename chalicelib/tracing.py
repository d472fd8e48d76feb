"""X-Ray tracing, switched on lazily and only where it is enabled.

Importing ``aws_xray_sdk.core`` costs ~0.35 s (its recorder builds clients at import), so it is
never imported on a cold start path unless tracing is on, and locally it is never imported at all,
which also keeps its "cannot find the current segment" warnings out of local logs and tests.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from chalicelib.config import get_settings

PATCHED_MODULES = ("boto3", "botocore", "requests")


@functools.cache
def init_tracing() -> bool:
    """Patch boto3/botocore/requests for X-Ray once; return whether tracing is on."""
    if not get_settings().xray_enabled:
        return False
    from aws_xray_sdk.core import patch  # noqa: PLC0415

    patch(PATCHED_MODULES)
    return True


@contextlib.contextmanager
def subsegment(name: str, **annotations: str) -> Iterator[Any]:
    """An X-Ray subsegment with searchable annotations, or nothing when tracing is off."""
    if not init_tracing():
        yield None
        return
    from aws_xray_sdk.core import xray_recorder  # noqa: PLC0415

    with xray_recorder.in_subsegment(name) as seg:
        for key, value in annotations.items():
            if seg is not None:
                seg.put_annotation(key, value)
        yield seg


def reset_tracing() -> None:
    """Forget whether tracing was initialised (tests)."""
    init_tracing.cache_clear()
