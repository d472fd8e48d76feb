"""Debian's Chromium, as the dashboard's browser tests and bench/dashboard.py launch it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: headless as root; and no calls to Google's services (the machine's network is closed)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
]
MISSING = (
    "Chromium is needed for the dashboard's browser tests: `apt-get install chromium` "
    "(as .ci/run does), or set CONDUCTOR_CHROMIUM to its path."
)


def executable() -> str | None:
    """CONDUCTOR_CHROMIUM, else `chromium` on the PATH, else None."""
    path = os.environ.get("CONDUCTOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if Path(path).exists() else None
