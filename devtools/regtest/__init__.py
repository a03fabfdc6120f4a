"""Install, start, stop and report on a regtest Bitcoin node for development and tests.

Why this package exists: custody code has to be tested against a real node speaking the
real JSON-RPC, but Debian bookworm ships no ``bitcoind`` and the workplace can only reach
package registries.  Debian trixie ships Bitcoin Knots (a Bitcoin Core derivative with the
same RPC), so :func:`install` downloads it and the trixie runtime libraries it needs with
``apt-get download`` into a private folder, unpacks them with ``dpkg -x`` and runs the
binaries through trixie's own dynamic loader.  Nothing on the system is changed: no
package is installed and the system apt lists and caches are left alone.

The package is standard library only (no Django) so CI scripts, test fixtures and a
developer's shell can all use it before the project's virtualenv exists::

    python3 -m devtools.regtest install
    python3 -m devtools.regtest start --datadir /tmp/node   # prints the RPC URL
    python3 -m devtools.regtest status --datadir /tmp/node
    python3 -m devtools.regtest cli --datadir /tmp/node -- getblockchaininfo
    python3 -m devtools.regtest stop --datadir /tmp/node

A ``bitcoind`` found on ``PATH`` (with ``bitcoin-cli`` beside it) is used instead of the
downloaded one, so machines that have a real package installed skip the download.

Modules: ``config`` (names, pins, folders), ``binaries`` (how to launch), ``install``
(once per user cache, under a lock), ``debian`` and ``apt_sources`` (the private apt
download), ``rpc`` (one JSON-RPC call), ``process`` (a running node), ``state`` (the
datadir's state file), ``control`` (start/attach/status/stop) and ``cli``.
"""

from __future__ import annotations

from devtools.regtest.apt_sources import debian_mirror
from devtools.regtest.binaries import NodeBinaries, bundled_binaries, find_binaries
from devtools.regtest.cli import main
from devtools.regtest.config import (
    CONSOLE_LOG_NAME,
    DEBIAN_KEYRING,
    DEBIAN_SUITES,
    KNOTS_PACKAGE,
    LOADER_NAME,
    MULTIARCH,
    RPC_HOST,
    RPC_USER,
    RUNTIME_PACKAGES,
    START_TIMEOUT,
    STOP_TIMEOUT,
    cache_dir,
    default_datadir,
    install_dir,
)
from devtools.regtest.control import NodeStatus, attach, start, status, stop
from devtools.regtest.errors import NodeError, NodeInstallError, NodeStartError, RpcError
from devtools.regtest.install import install
from devtools.regtest.process import NodeProcess
from devtools.regtest.rpc import rpc_call

__all__ = [
    "CONSOLE_LOG_NAME",
    "DEBIAN_KEYRING",
    "DEBIAN_SUITES",
    "KNOTS_PACKAGE",
    "LOADER_NAME",
    "MULTIARCH",
    "RPC_HOST",
    "RPC_USER",
    "RUNTIME_PACKAGES",
    "START_TIMEOUT",
    "STOP_TIMEOUT",
    "NodeBinaries",
    "NodeError",
    "NodeInstallError",
    "NodeProcess",
    "NodeStartError",
    "NodeStatus",
    "RpcError",
    "attach",
    "bundled_binaries",
    "cache_dir",
    "debian_mirror",
    "default_datadir",
    "find_binaries",
    "install",
    "install_dir",
    "main",
    "rpc_call",
    "start",
    "status",
    "stop",
]
