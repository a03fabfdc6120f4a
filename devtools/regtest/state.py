"""The state file in a node's datadir: how another process finds, queries and stops it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from core.node_state import STATE_FILE_NAME


def read_state(datadir: Path) -> dict[str, Any] | None:
    """Load the state file, or None if missing or unreadable."""
    try:
        data = json.loads((datadir / STATE_FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_state_file(path: Path, state: dict[str, Any]) -> None:
    """Replace ``path`` atomically with ``state`` (mode 0600: it holds the RPC password)."""
    temporary = path.with_suffix(".json.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2)
    os.replace(temporary, path)
