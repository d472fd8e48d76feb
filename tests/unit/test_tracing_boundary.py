"""The X-Ray SDK stays behind one module (docs/deploy.md: its support ends 2027-02-25, and the
move to OpenTelemetry must change ``chalicelib/tracing.py`` only)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_only_the_tracing_module_imports_the_xray_sdk() -> None:
    sources = [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py"), *(ROOT / "devserver").rglob("*.py")]
    importers = sorted(
        str(p.relative_to(ROOT))
        for p in sources
        if any(m.split(".")[0] == "aws_xray_sdk" for m in _imports(p))
    )
    assert importers == ["chalicelib/tracing.py"]
