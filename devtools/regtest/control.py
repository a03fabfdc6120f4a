"""Start, find, report on and stop the node in a datadir (any process, via the state file)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.node_state import STATE_FILE_NAME
from devtools.regtest.binaries import NodeBinaries
from devtools.regtest.config import (
    CONSOLE_LOG_NAME,
    RPC_HOST,
    RPC_USER,
    START_TIMEOUT,
    STOP_TIMEOUT,
)
from devtools.regtest.errors import NodeStartError, RpcError
from devtools.regtest.install import install
from devtools.regtest.process import NodeProcess, free_port
from devtools.regtest.rpc import RPC_FAILURES
from devtools.regtest.state import read_state

log = logging.getLogger(__name__)


def attach(datadir: str | os.PathLike[str]) -> NodeProcess | None:
    """Rebuild a handle to a node started earlier (by any process) in ``datadir``."""
    resolved = Path(datadir).expanduser().resolve()
    state = read_state(resolved)
    if state is None:
        return None
    try:
        return NodeProcess(
            resolved,
            NodeBinaries.from_json(state["binaries"]),
            rpc_port=int(state["rpc_port"]),
            p2p_port=int(state["p2p_port"]),
            rpc_password=str(state["rpc_password"]),
            rpc_user=str(state.get("rpc_user", RPC_USER)),
            pid=int(state["pid"]),
        )
    except (KeyError, TypeError, ValueError):
        log.warning("ignoring malformed %s", resolved / STATE_FILE_NAME)
        return None


def start(
    datadir: str | os.PathLike[str],
    rpc_port: int | None = None,
    p2p_port: int | None = None,
    extra_args: Sequence[str] = (),
    *,
    block_notify: str | None = None,
    binaries: NodeBinaries | None = None,
    detach: bool = False,
    timeout: float = START_TIMEOUT,
) -> NodeProcess:
    """Start a regtest bitcoind in ``datadir`` and return once its RPC answers.

    ``detach=True`` puts the node in its own session so it outlives the caller (the CLI);
    otherwise it is stopped when this interpreter exits, so tests cannot leak nodes.
    Installs the node first if needed.
    """
    resolved = Path(datadir).expanduser().resolve()
    previous = attach(resolved)
    if previous is not None and previous.is_running():
        raise NodeStartError(f"a node is already running in {resolved} (pid {previous.pid})")
    chosen = binaries or install()
    resolved.mkdir(parents=True, exist_ok=True)
    rpc = rpc_port or free_port()
    node = NodeProcess(
        resolved, chosen, rpc_port=rpc, p2p_port=p2p_port or free_port({rpc}),
        rpc_password=secrets.token_hex(24),
    )  # fmt: skip
    with (resolved / CONSOLE_LOG_NAME).open("ab") as console:
        popen = subprocess.Popen(  # noqa: S603 - argv built from our own paths and options
            node.bitcoind_argv(extra_args, block_notify),
            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            start_new_session=detach, close_fds=True,
        )  # fmt: skip
    node.adopt(popen, detach=detach)
    node.write_state()
    try:
        node.wait_until_ready(timeout)
    except BaseException:
        with contextlib.suppress(Exception):
            node.stop(timeout=10)
        raise
    log.info("bitcoind pid %d answering on %s:%d", node.pid, RPC_HOST, node.rpc_port)
    return node


@dataclass(frozen=True)
class NodeStatus:
    """What :func:`status` found; ``running`` means the process is alive and RPC answers."""

    datadir: Path
    running: bool
    detail: str
    pid: int | None = None
    rpc_url: str | None = None
    rpc_port: int | None = None
    p2p_port: int | None = None
    blocks: int | None = None
    process_alive: bool = False


def status(datadir: str | os.PathLike[str]) -> NodeStatus:
    """Report whether a node started earlier in ``datadir`` is running, with details."""
    resolved = Path(datadir).expanduser().resolve()
    node = attach(resolved)
    if node is None:
        return NodeStatus(resolved, running=False, detail=f"no {STATE_FILE_NAME}")
    known = NodeStatus(
        resolved, running=False, detail="process gone (stale state)", pid=node.pid,
        rpc_url=node.rpc_url, rpc_port=node.rpc_port, p2p_port=node.p2p_port,
    )  # fmt: skip
    if not node.is_running():
        return known
    try:
        info = node.rpc("getblockchaininfo", timeout=5)
    except (*RPC_FAILURES, RpcError) as exc:
        detail = f"process alive, RPC not answering: {exc}"
        return dataclasses.replace(known, detail=detail, process_alive=True)
    blocks = int(info["blocks"])
    return dataclasses.replace(
        known, running=True, detail=f"chain {info['chain']}, {blocks} blocks", blocks=blocks,
        process_alive=True,
    )  # fmt: skip


def stop(datadir: str | os.PathLike[str], timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the node recorded in ``datadir``; return False if none was running."""
    node = attach(datadir)
    if node is None:
        return False
    was_running = node.is_running()
    node.stop(timeout)
    return was_running
