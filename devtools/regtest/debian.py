"""Fetch Bitcoin Knots and its trixie runtime with a private apt setup, and unpack them.

Nothing on the system is changed: the lists, caches and preferences apt uses live in the
work folder, and ``dpkg -x`` only unpacks (no package is installed).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from devtools.regtest.apt_sources import debian_mirror
from devtools.regtest.config import DEBIAN_KEYRING, DEBIAN_SUITES, KNOTS_PACKAGE, RUNTIME_PACKAGES
from devtools.regtest.errors import NodeInstallError

log = logging.getLogger(__name__)


def download_and_unpack(work: Path) -> Path:
    """Fetch the .deb files with a private apt configuration and unpack them into one root."""
    apt_get = _require_tool("apt-get")
    dpkg = _require_tool("dpkg")
    options = _private_apt_options(work, _write_sources_list(work, debian_mirror()))
    log.info("updating private apt lists for %s", " ".join(DEBIAN_SUITES))
    _run([apt_get, *options, "update"])
    debs = work / "debs"
    debs.mkdir()
    packages = [KNOTS_PACKAGE, *(f"{name}/trixie" for name in RUNTIME_PACKAGES)]
    log.info("downloading %d packages", len(packages))
    _run([apt_get, *options, "download", *packages], cwd=debs)
    root = work / "root"
    root.mkdir()
    files = sorted(debs.glob("*.deb"))
    if len(files) < len(packages):
        raise NodeInstallError(f"expected {len(packages)} .deb files, got {len(files)}")
    log.info("unpacking %d packages", len(files))
    for deb in files:
        _run([dpkg, "-x", str(deb), str(root)])
    return root


def _require_tool(name: str) -> str:
    """Resolve a Debian tool to an absolute path, with a clear error off Debian."""
    path = shutil.which(name)
    if path is None:
        raise NodeInstallError(f"{name} not found: installing the node needs Debian's apt/dpkg")
    return path


def _write_sources_list(work: Path, mirror: str) -> Path:
    """Write the private one-line sources list for trixie and trixie-backports.

    bookworm's debian-archive-keyring already carries the trixie signing keys, so the
    archive signature is checked.  Only when that keyring file is missing do we fall back
    to ``trusted=yes`` (unverified downloads), and we say so in the log and in the file.
    """
    if DEBIAN_KEYRING.is_file():
        option = f"signed-by={DEBIAN_KEYRING}"
        note = "# Signatures checked against the system's Debian archive keyring."
    else:
        option = "trusted=yes"
        note = f"# {DEBIAN_KEYRING} missing: signatures NOT checked (trusted=yes fallback)."
        log.warning("%s is missing; downloading without signature checks", DEBIAN_KEYRING)
    lines = ["# Private sources of devtools.regtest; not used by the system's apt.", note]
    lines += [f"deb [{option}] {mirror} {suite} main" for suite in DEBIAN_SUITES]
    path = work / "sources.list"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _private_apt_options(work: Path, sources: Path) -> list[str]:
    """apt-get options that keep lists, caches and preferences inside ``work``."""
    for sub in ("lists/partial", "cache/archives/partial", "empty"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    settings = {
        "Dir::Etc::sourcelist": str(sources),
        "Dir::Etc::sourceparts": "-",
        "Dir::Etc::preferences": os.devnull,
        "Dir::Etc::preferencesparts": str(work / "empty"),
        "Dir::State::Lists": str(work / "lists"),
        "Dir::Cache": str(work / "cache"),
        "Dir::Cache::archives": str(work / "cache" / "archives"),
        "Acquire::Languages": "none",
    }
    options = ["-q"]
    for key, value in settings.items():
        options += ["-o", f"{key}={value}"]
    return options


def _run(argv: list[str], cwd: Path | None = None) -> str:
    """Run an install step, turning failure into NodeInstallError with the output's tail."""
    result = subprocess.run(  # noqa: S603 - fixed tools, arguments built here
        argv, cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-20:])
        raise NodeInstallError(f"{' '.join(argv[:2])} ... exited {result.returncode}:\n{tail}")
    return output
