"""How to launch bitcoind and bitcoin-cli: from PATH or from the unpacked trixie tree."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.regtest.config import LOADER_NAME, MULTIARCH, install_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeBinaries:
    """How to launch bitcoind and bitcoin-cli.

    The downloaded binaries are started through trixie's loader with ``--library-path``
    rather than with ``LD_LIBRARY_PATH``, so programs that bitcoind itself spawns
    (``-blocknotify`` hooks) still run against the host's own libraries.
    """

    bin_dir: Path
    loader: Path | None = None
    library_path: tuple[Path, ...] = ()

    def command_prefix(self, name: str) -> list[str]:
        """Return the argv prefix that runs binary ``name`` (e.g. ``"bitcoind"``)."""
        binary = str(self.bin_dir / name)
        if self.loader is None:
            return [binary]
        libraries = os.pathsep.join(str(path) for path in self.library_path)
        return [str(self.loader), "--library-path", libraries, binary]

    def version(self) -> str | None:
        """Return the first line of ``bitcoind -version``, or None if it does not run."""
        try:
            result = subprocess.run(  # noqa: S603 - argv built from our own paths
                [*self.command_prefix("bitcoind"), "-version"],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return None
        first_line = result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""
        if result.returncode != 0 or " version " not in first_line:
            return None
        return first_line

    def to_json(self) -> dict[str, Any]:
        """Serialise for the state file, so another process can run bitcoin-cli."""
        return {
            "bin_dir": str(self.bin_dir),
            "loader": str(self.loader) if self.loader else None,
            "library_path": [str(path) for path in self.library_path],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NodeBinaries:
        """Inverse of :meth:`to_json`."""
        loader = data.get("loader")
        return cls(
            bin_dir=Path(data["bin_dir"]),
            loader=Path(loader) if loader else None,
            library_path=tuple(Path(path) for path in data.get("library_path", ())),
        )


def bundled_binaries(root: Path) -> NodeBinaries | None:
    """Describe an unpacked trixie tree, or None if it lacks bitcoind or a loader.

    trixie is merged-/usr, so the loader is a real file in ``usr/lib/<multiarch>`` and
    ``usr/lib64`` only holds a relative symlink to it; a regular file is preferred so an
    absolute symlink can never send us to the host's (older) loader.
    """
    candidates = [
        root / "usr" / "lib" / MULTIARCH / LOADER_NAME,
        root / "lib" / MULTIARCH / LOADER_NAME,
        root / "usr" / "lib64" / LOADER_NAME,
        root / "lib64" / LOADER_NAME,
    ]
    regular = [path for path in candidates if path.is_file() and not path.is_symlink()]
    linked = [path for path in candidates if path.is_file()]
    loaders = regular or linked
    bin_dir = root / "usr" / "bin"
    if not loaders or not (bin_dir / "bitcoind").is_file():
        return None
    library_dirs = [root / "usr" / "lib" / MULTIARCH, root / "lib" / MULTIARCH]
    return NodeBinaries(
        bin_dir=bin_dir,
        loader=loaders[0],
        library_path=tuple(path for path in library_dirs if path.is_dir()),
    )


def find_binaries() -> NodeBinaries | None:
    """Return the node to use: ``bitcoind`` on PATH first, else a working cached install."""
    on_path = shutil.which("bitcoind")
    if on_path:
        bin_dir = Path(on_path).parent
        if (bin_dir / "bitcoin-cli").is_file():
            return NodeBinaries(bin_dir=bin_dir)
        log.warning("ignoring %s: no bitcoin-cli beside it", on_path)
    bundled = bundled_binaries(install_dir() / "root")
    if bundled is not None and bundled.version() is not None:
        return bundled
    return None
