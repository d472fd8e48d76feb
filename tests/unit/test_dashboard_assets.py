"""The dashboard's static files: what is served, what they may reach, and colour contrast."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chalicelib.api.web import ASSETS, WEB, content_security_policy

CSS = (WEB / "dashboard.css").read_text()
#: (text, background) colour variables that must reach WCAG AA for normal text (4.5:1)
TEXT_PAIRS = [
    ("fg", "bg"),
    ("fg", "surface"),
    ("muted", "bg"),
    ("muted", "surface"),
    ("link", "bg"),
    ("on-accent", "accent"),
    ("on-accent", "danger"),
    ("ok", "bg"),
    ("ok", "surface"),
    ("bad", "bg"),
    ("bad", "surface"),
    ("warn", "bg"),
    ("warn", "surface"),
    ("bg", "fg"),
]


def theme(selector: str) -> dict[str, str]:
    block = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", CSS)
    assert block is not None, selector
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", block.group(1)))


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("selector", [":root", ':root[data-theme="dark"]'])
def test_every_text_colour_pair_meets_wcag_aa(selector: str) -> None:
    colours = {**theme(":root"), **theme(selector)}
    weak = {
        f"{fg} on {bg}": round(contrast(colours[fg], colours[bg]), 2)
        for fg, bg in TEXT_PAIRS
        if contrast(colours[fg], colours[bg]) < 4.5
    }
    assert weak == {}


def test_every_module_the_page_imports_is_served_and_nothing_else_is_needed() -> None:
    files = {p.name for p in WEB.iterdir() if p.is_file()} - {"dashboard.html"}
    assert files == set(ASSETS)
    for name in ASSETS:
        if name.endswith(".js"):
            for imported in re.findall(r'from "\./([^"]+)"', (WEB / name).read_text()):
                assert imported in ASSETS, (name, imported)


def test_the_page_names_no_other_host() -> None:
    # Relative URLs only: the API that served the page, and the WebSocket URL it is given.
    for path in [p for p in WEB.iterdir() if p.is_file()] + list((WEB / "docs").glob("docs.*")):
        text = path.read_text()
        urls = re.findall(r"(?:https?:|wss?:)?//[A-Za-z0-9.-]+", text)
        # the SVG namespace, and RFC 2606's documentation host in the copyable commands of empty
        # lists (text in a <pre>, never requested)
        assert set(urls) <= {"http://www.w3.org", "https://example.com"}, (path.name, urls)


def test_the_policy_allows_only_this_origin_and_the_websocket() -> None:
    policy = content_security_policy("wss://abc.execute-api.eu-west-1.amazonaws.com/api")
    assert "default-src 'none'" in policy and "script-src 'self';" in policy
    assert "connect-src 'self' wss://abc.execute-api.eu-west-1.amazonaws.com/api;" in policy
    assert "unsafe" not in policy
    assert "connect-src 'self';" in content_security_policy(None)


def test_assets_are_plain_files_without_a_build_step() -> None:
    for name in ASSETS:
        assert Path(WEB / name).stat().st_size < 60_000, name


def test_the_javascript_passes_biome_lint_and_format_check() -> None:
    """Biome (npm, pinned in package.json; `make install` runs `npm ci`) with biome.json: the
    recommended rules plus undeclared/unused names, the formatter, sorted imports."""
    import subprocess

    root = WEB.parents[1]
    biome = root / "node_modules" / ".bin" / "biome"
    assert biome.exists(), "Biome is missing: `make install` (npm ci) installs it"
    done = subprocess.run(
        [str(biome), "check", "--colors=off"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
