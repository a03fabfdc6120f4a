"""Install the node once per user cache, safely from several processes at once."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from devtools.regtest.binaries import NodeBinaries, bundled_binaries, find_binaries
from devtools.regtest.config import install_dir
from devtools.regtest.debian import download_and_unpack
from devtools.regtest.errors import NodeInstallError

log = logging.getLogger(__name__)


def install() -> NodeBinaries:
    """Make a runnable node available and return how to launch it.

    Idempotent and safe to run from several processes at once: the work happens under an
    exclusive ``flock`` in a temporary folder that is renamed to ``root`` only once
    ``bitcoind -version`` runs from it, so a half-done install is never taken for a good one.
    """
    found = find_binaries()
    if found is not None:
        return found
    if platform.machine() != "x86_64":
        raise NodeInstallError(f"only x86_64 is supported, not {platform.machine()}")
    target = install_dir()
    target.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target / "install.lock"):
        found = find_binaries()  # another process may have finished while we waited
        if found is not None:
            return found
        _remove_leftovers(target)
        started = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix=".install-", dir=target))
        try:
            staged = download_and_unpack(work)
            probe = bundled_binaries(staged)
            version = probe.version() if probe else None
            if version is None:
                raise NodeInstallError(f"unpacked node in {staged} does not run -version")
            _replace_dir(staged, target / "root")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        log.info("installed %s in %.1f s", version, time.monotonic() - started)
    found = find_binaries()
    if found is None:
        raise NodeInstallError(f"install finished but {target / 'root'} does not run")
    return found


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``path``; the kernel drops it if we die."""
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process to finish installing the node")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _remove_leftovers(target: Path) -> None:
    """Delete work folders of killed installs; safe because we hold the install lock."""
    for leftover in [*target.glob(".install-*"), *target.glob(".broken-*")]:
        shutil.rmtree(leftover, ignore_errors=True)


def _replace_dir(staged: Path, final: Path) -> None:
    """Rename ``staged`` to ``final`` (same filesystem, so atomic), evicting a broken one."""
    if final.exists():
        broken = final.with_name(f".broken-{os.getpid()}")
        os.rename(final, broken)
        shutil.rmtree(broken, ignore_errors=True)
    os.rename(staged, final)
