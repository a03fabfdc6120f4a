"""A running regtest bitcoind: its argv, RPC, liveness checks, readiness wait and stop."""

from __future__ import annotations

import atexit
import contextlib
import datetime
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.node_state import STATE_FILE_NAME
from devtools.regtest.binaries import NodeBinaries
from devtools.regtest.config import (
    CONSOLE_LOG_NAME,
    RPC_HOST,
    RPC_USER,
    START_TIMEOUT,
    STOP_TIMEOUT,
)
from devtools.regtest.errors import NodeError, NodeStartError, RpcError
from devtools.regtest.rpc import RPC_FAILURES, rpc_call
from devtools.regtest.state import read_state, write_state_file

log = logging.getLogger(__name__)


def free_port(exclude: set[int] | frozenset[int] = frozenset()) -> int:
    """Ask the kernel for a free loopback port (there is a small race until bitcoind binds)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((RPC_HOST, 0))
            port = int(probe.getsockname()[1])
        if port not in exclude:
            return port


def _pid_is_node(pid: int, datadir: Path) -> bool:
    """True if ``pid`` is a live bitcoind for ``datadir``; guards against reused pids.

    A zombie counts as dead: in containers PID 1 may never reap a daemon we started.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    proc = Path("/proc") / str(pid)
    try:
        state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        argv = (proc / "cmdline").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return True  # no /proc to check against: trust the pid
    if state == "Z":
        return False
    is_bitcoind = any(arg.endswith(b"bitcoind") for arg in argv)
    return is_bitcoind and f"-datadir={datadir}".encode() in argv


def _tail(path: Path, lines: int = 25) -> str:
    """Last lines of a log file, for error messages; empty if it does not exist."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


_LIVE_NODES: set[NodeProcess] = set()


@atexit.register
def _stop_attached_nodes() -> None:
    """Stop nodes a test run started without ``detach`` so they never outlive it."""
    for node in list(_LIVE_NODES):
        with contextlib.suppress(Exception):
            node.stop()


class NodeProcess:
    """A regtest bitcoind owned by this process (from :func:`start`) or found via its state.

    The state file ``alatau-node.json`` in the datadir lets another process (the CLI, a
    test worker) find, query and stop a node started earlier.
    """

    def __init__(
        self,
        datadir: Path,
        binaries: NodeBinaries,
        *,
        rpc_port: int,
        p2p_port: int,
        rpc_password: str,
        pid: int = 0,
        rpc_user: str = RPC_USER,
    ) -> None:
        self.datadir = datadir
        self.binaries = binaries
        self.rpc_port = rpc_port
        self.p2p_port = p2p_port
        self.rpc_user = rpc_user
        self.rpc_password = rpc_password
        self.pid = pid
        self._popen: subprocess.Popen[bytes] | None = None
        self._stopped = False

    def __repr__(self) -> str:
        return (
            f"NodeProcess(pid={self.pid}, datadir={str(self.datadir)!r}, "
            f"rpc_port={self.rpc_port}, p2p_port={self.p2p_port})"
        )

    def adopt(self, popen: subprocess.Popen[bytes], *, detach: bool) -> None:
        """Take ``popen`` as this node's process; unless detached, stop it at exit."""
        self.pid = popen.pid
        self._popen = popen
        if not detach:
            _LIVE_NODES.add(self)

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def rpc_url(self) -> str:
        """``http://user:password@127.0.0.1:port``, usable by any JSON-RPC client."""
        return f"http://{self.rpc_user}:{self.rpc_password}@{RPC_HOST}:{self.rpc_port}"

    @property
    def state_file(self) -> Path:
        return self.datadir / STATE_FILE_NAME

    @property
    def debug_log(self) -> Path:
        return self.datadir / "regtest" / "debug.log"

    def rpc(self, method: str, *params: Any, wallet: str | None = None,
            timeout: float = 30.0) -> Any:  # fmt: skip
        """Call ``method`` on this node (``wallet`` selects ``/wallet/<name>``)."""
        return rpc_call(self.rpc_url, method, params, wallet=wallet, timeout=timeout)

    def bitcoind_argv(
        self, extra_args: Sequence[str] = (), block_notify: str | None = None
    ) -> list[str]:
        """Every option explicit, so no bitcoin.conf or default can change behaviour.

        ``-upnp`` is not passed: Bitcoin Core 29 removed UPnP (Knots 29 no longer lists the
        option); ``-natpmp=0`` covers port mapping.  ``-addresstype=bech32`` restores Bitcoin
        Core's default: Knots otherwise hands out legacy P2PKH addresses from
        ``getnewaddress`` (its ``-walletimplicitsegwit=0`` implies ``-addresstype=legacy``).
        ``extra_args`` come last, and on bitcoind's command line the last value wins.
        """
        argv = [
            *self.binaries.command_prefix("bitcoind"),
            "-regtest", "-server", "-listen=0", "-daemon=0", "-txindex=0",
            "-fallbackfee=0.0002", f"-rpcport={self.rpc_port}", f"-rpcbind={RPC_HOST}",
            f"-rpcallowip={RPC_HOST}", f"-port={self.p2p_port}", f"-datadir={self.datadir}",
            f"-rpcuser={self.rpc_user}", f"-rpcpassword={self.rpc_password}",
            "-printtoconsole=0", "-disablewallet=0", "-dnsseed=0", "-discover=0", "-natpmp=0",
            "-addresstype=bech32",
        ]  # fmt: skip
        if block_notify:
            argv.append(f"-blocknotify={block_notify}")
        return [*argv, *extra_args]

    def cli_argv(self, *args: str) -> list[str]:
        """argv for bitcoin-cli against this node, e.g. ``cli_argv("getblockcount")``."""
        return [
            *self.binaries.command_prefix("bitcoin-cli"),
            "-regtest", f"-datadir={self.datadir}", f"-rpcconnect={RPC_HOST}",
            f"-rpcport={self.rpc_port}", f"-rpcuser={self.rpc_user}",
            f"-rpcpassword={self.rpc_password}", *args,
        ]  # fmt: skip

    def is_running(self) -> bool:
        """Whether the bitcoind process is alive (it may still be warming up)."""
        if self._popen is not None:
            return self._popen.poll() is None
        return _pid_is_node(self.pid, self.datadir)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the node: RPC ``stop``, then SIGTERM, then SIGKILL. Safe to call twice."""
        if self._stopped:
            return
        if self.is_running():
            with contextlib.suppress(*RPC_FAILURES, RpcError):
                self.rpc("stop", timeout=10)
            if not self._wait_exit(timeout):
                log.warning("bitcoind pid %d ignored RPC stop; sending SIGTERM", self.pid)
                self._signal(signal.SIGTERM)
                if not self._wait_exit(10):
                    log.warning("bitcoind pid %d ignored SIGTERM; sending SIGKILL", self.pid)
                    self._signal(signal.SIGKILL)
                    if not self._wait_exit(5):
                        raise NodeError(f"bitcoind pid {self.pid} survived SIGKILL")
        self._stopped = True
        _LIVE_NODES.discard(self)
        self._remove_state()

    def _wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.is_running():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    def _signal(self, signum: int) -> None:
        if self.is_running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def write_state(self) -> None:
        """Record pid, ports and credentials (mode 0600: it holds the RPC password)."""
        state = {
            "pid": self.pid, "rpc_port": self.rpc_port, "p2p_port": self.p2p_port,
            "rpc_url": self.rpc_url, "rpc_user": self.rpc_user,
            "rpc_password": self.rpc_password, "datadir": str(self.datadir),
            "binaries": self.binaries.to_json(),
            "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }  # fmt: skip
        write_state_file(self.state_file, state)

    def _remove_state(self) -> None:
        """Remove the state file only if it still describes this node."""
        state = read_state(self.datadir)
        if state is not None and state.get("pid") == self.pid:
            self.state_file.unlink(missing_ok=True)

    def wait_until_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Poll RPC until it answers; fail fast with the logs if bitcoind exits early."""
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while True:
            if not self.is_running():
                code = self._popen.poll() if self._popen is not None else None
                raise NodeStartError(
                    f"bitcoind exited (code {code}) before RPC answered\n{self.log_tail()}"
                )
            try:
                self.rpc("getblockchaininfo", timeout=5)
                return
            except (*RPC_FAILURES, RpcError) as exc:  # -28 while warming up, or refused
                last_error = str(exc)
            if time.monotonic() >= deadline:
                raise NodeStartError(
                    f"RPC did not answer within {timeout:.0f} s ({last_error})\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def log_tail(self, lines: int = 25) -> str:
        """Tails of debug.log and of the captured console, for error messages."""
        parts = []
        for path in (self.debug_log, self.datadir / CONSOLE_LOG_NAME):
            text = _tail(path, lines)
            if text:
                parts.append(f"--- {path} ---\n{text}")
        return "\n".join(parts) or "(no log output)"
