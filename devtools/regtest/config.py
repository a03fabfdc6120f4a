"""Names, ports, timeouts, package pins and folders of the regtest runtime."""

from __future__ import annotations

import os
from pathlib import Path

CONSOLE_LOG_NAME = "alatau-node.log"
RPC_USER = "alatau"
RPC_HOST = "127.0.0.1"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

# Where the packages come from.  The mirror itself is read from the machine's apt sources
# (see debian_mirror) so that no host name is written into the project.
DEBIAN_SUITES = ("trixie", "trixie-backports")
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
KNOTS_PACKAGE = "bitcoin-knots/trixie-backports"
# Everything bitcoind and bitcoin-cli link against, pinned to trixie so that the loader,
# libc and libstdc++ come from one consistent release (bookworm's are too old for Knots).
RUNTIME_PACKAGES = (
    "libc6", "libstdc++6", "libgcc-s1", "libevent-core-2.1-7t64", "libevent-extra-2.1-7t64",
    "libevent-pthreads-2.1-7t64", "libzmq5", "libsodium23", "libpgm-5.3-0t64", "libnorm1t64",
    "libbsd0", "libmd0", "libgssapi-krb5-2", "libkrb5-3", "libk5crypto3", "libkrb5support0",
    "libcom-err2", "libkeyutils1", "libssl3t64", "libsqlite3-0", "zlib1g",
)  # fmt: skip
MULTIARCH = "x86_64-linux-gnu"
LOADER_NAME = "ld-linux-x86-64.so.2"


def cache_dir() -> Path:
    """Return the per-user cache root, so downloads are shared by every work tree."""
    explicit = os.environ.get("ALATAU_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "alatau"
    return Path.home() / ".cache" / "alatau"


def install_dir() -> Path:
    """Folder holding the install lock and the unpacked ``root``."""
    return cache_dir() / "bitcoin-knots"


def default_datadir() -> Path:
    """Datadir the CLI uses when ``--datadir`` is not given."""
    return cache_dir() / "regtest-node"
