"""Small pieces (STYLE.md, 11): no module over 500 lines, no function over 70 lines.

Every ``.py`` file of the project counts, tests and tools included; migrations are
generated and excluded, and so are the virtualenv, caches and build output.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE_LINES_MAX = 500
FUNCTION_LINES_MAX = 70
SKIPPED_DIRS = {"migrations", "node_modules", "build", "var", "__pycache__"}


def _our_modules(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts[:-1]
        if any(part in SKIPPED_DIRS or part.startswith(".") for part in parts):
            continue
        yield path


def _oversized(path: Path, root: Path) -> list[str]:
    """Return one line per rule ``path`` breaks: the module's length, each long function."""
    text = path.read_text(encoding="utf-8")
    name = path.relative_to(root).as_posix()
    problems = []
    lines = len(text.splitlines())
    if lines > MODULE_LINES_MAX:
        problems.append(f"{name}: module has {lines} lines (max {MODULE_LINES_MAX})")
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            if length > FUNCTION_LINES_MAX:
                problems.append(
                    f"{name}:{node.lineno}: {node.name}() has {length} lines"
                    f" (max {FUNCTION_LINES_MAX})"
                )
    return problems


def _violations(root: Path) -> list[str]:
    return [problem for path in _our_modules(root) for problem in _oversized(path, root)]


def test_no_module_or_function_is_too_long() -> None:
    assert _violations(ROOT) == []


def test_the_checker_sees_long_modules_and_methods(tmp_path: Path) -> None:
    def body(lines: int, indent: str) -> str:
        return "".join(f"{indent}x = {n}\n" for n in range(lines))

    source = (
        "class A:\n    def method(self):\n" + body(FUNCTION_LINES_MAX, " " * 8)  # 71 lines
        + "async def edge():\n" + body(FUNCTION_LINES_MAX - 1, " " * 4)  # 70 lines: allowed
    )  # fmt: skip
    (tmp_path / "app" / "migrations").mkdir(parents=True)
    (tmp_path / "app" / "long.py").write_text(source + "# filler\n" * MODULE_LINES_MAX)
    (tmp_path / "app" / "short.py").write_text(source)
    (tmp_path / "app" / "migrations" / "0001_initial.py").write_text(source * 10)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "big.py").write_text(source * 10)
    total = 2 * FUNCTION_LINES_MAX + 2 + MODULE_LINES_MAX
    method = f"method() has {FUNCTION_LINES_MAX + 1} lines (max {FUNCTION_LINES_MAX})"
    assert _violations(tmp_path) == [
        f"app/long.py: module has {total} lines (max {MODULE_LINES_MAX})",
        f"app/long.py:2: {method}",
        f"app/short.py:2: {method}",
    ]
