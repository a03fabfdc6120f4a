"""The apps form one direction of dependency (docs/architecture.md), imports inside functions too.

Each app may import only the apps below it in ``LAYERS``; the project package ``bank``
may import every app, and an app may import ``bank`` only for the Celery app.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Bottom to top. An app imports only apps earlier in this list.
LAYERS = [
    "core",
    "audit",
    "accounts",
    "exchange",
    "compliance",
    "custody",
    "treasury",
    "merchants",
    "notifications",
    "banking",
    "devtools",
]
ALLOWED_FROM_BANK = {"bank.celery"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _violations() -> list[str]:
    ours = {*LAYERS, "bank"}
    problems = []
    for rank, app in enumerate(LAYERS):
        allowed = set(LAYERS[: rank + 1])
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for module in _imports(path):
                top = module.split(".")[0]
                if top not in ours or top in allowed or module in ALLOWED_FROM_BANK:
                    continue
                problems.append(f"{path.relative_to(ROOT)} imports {module}")
    return problems


def test_apps_import_only_the_layers_below() -> None:
    assert _violations() == []


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from merchants.models import Invoice\n")
    assert "merchants.models" in _imports(sample)


def test_every_app_is_in_a_layer() -> None:
    apps = {p.parent.name for p in ROOT.glob("*/apps.py")} - {"bank"}
    assert apps <= set(LAYERS)
