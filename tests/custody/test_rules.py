"""Project rules checked on the source tree (STYLE rule 14)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIRS = ("bank", "accounts", "custody", "merchants", "compliance", "bench", "tests")
RPC_CLIENT = ROOT / "custody" / "node.py"
RPC_IMPORT = re.compile(r"^\s*(from|import)\s+bitcoinrpc\b", re.MULTILINE)
FLOAT_CALL = re.compile(r"(?<![\w.])float\(")


def _sources() -> list[Path]:
    files: list[Path] = []
    for folder in PROJECT_DIRS:
        files += [
            path for path in (ROOT / folder).rglob("*.py")
            if "migrations" not in path.parts and path != Path(__file__).resolve()
        ]  # fmt: skip
    return files


def test_only_the_client_module_imports_the_rpc_library() -> None:
    offenders = [
        str(path.relative_to(ROOT)) for path in _sources()
        if path != RPC_CLIENT and RPC_IMPORT.search(path.read_text(encoding="utf-8"))
    ]  # fmt: skip
    assert offenders == []
    assert RPC_IMPORT.search(RPC_CLIENT.read_text(encoding="utf-8"))


def test_no_float_anywhere() -> None:
    offenders = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        if FLOAT_CALL.search(text) or "FloatField" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_rules_catch_offenders(tmp_path: Path) -> None:
    assert FLOAT_CALL.search("x = float(y)")
    assert not FLOAT_CALL.search("x = myfloat(y)")
    assert RPC_IMPORT.search("from bitcoinrpc.authproxy import AuthServiceProxy")
