"""``python -m devtools.regtest install|start|stop|status|cli``: the runtime from a shell."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from devtools.regtest.binaries import find_binaries
from devtools.regtest.config import default_datadir
from devtools.regtest.control import attach, start, status, stop
from devtools.regtest.errors import NodeError
from devtools.regtest.install import install

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--datadir", type=Path, default=default_datadir(),
                        help="node data directory (default: %(default)s)")  # fmt: skip
    parser = argparse.ArgumentParser(
        prog="python -m devtools.regtest",
        description="Install and run a regtest Bitcoin node for development and tests.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="download and unpack the node (no-op if present)")
    start_cmd = commands.add_parser("start", parents=[common], help="start a detached node")
    start_cmd.add_argument("--rpc-port", type=int, default=None)
    start_cmd.add_argument("--p2p-port", type=int, default=None)
    commands.add_parser("stop", parents=[common], help="stop the node in --datadir")
    commands.add_parser("status", parents=[common], help="exit 0 if running, 3 if not")
    cli_cmd = commands.add_parser("cli", parents=[common], help="run bitcoin-cli on the node")
    cli_cmd.add_argument("args", nargs=argparse.REMAINDER, help="bitcoin-cli arguments")
    return parser


def _cmd_install() -> int:
    started = time.monotonic()
    before = find_binaries()
    binaries = install()
    state = "already installed" if before is not None else "installed"
    loader = f", loader {binaries.loader}" if binaries.loader else ""
    took = time.monotonic() - started
    print(f"{state}: {binaries.version()} in {binaries.bin_dir}{loader} ({took:.1f} s)")
    return 0


def _cmd_start(args: argparse.Namespace) -> int:
    current = attach(args.datadir)
    if current is not None and current.is_running():
        log.info("already running: pid %d in %s", current.pid, current.datadir)
        print(current.rpc_url)
        return 0
    node = start(args.datadir, args.rpc_port, args.p2p_port, detach=True)
    log.info("started bitcoind pid %d in %s", node.pid, node.datadir)
    print(node.rpc_url)
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    found = status(args.datadir)
    if found.running:
        print(f"running: pid {found.pid}, {found.detail}, {found.rpc_url}, datadir {found.datadir}")
        return 0
    print(f"not running: {found.detail} (datadir {found.datadir})")
    return 3


def _cmd_cli(args: argparse.Namespace) -> int:
    node = attach(args.datadir)
    if node is None or not node.is_running():
        print(f"error: no node running in {args.datadir}", file=sys.stderr)
        return 1
    extra = [arg for arg in args.args if arg != "--"]
    return subprocess.call(node.cli_argv(*extra))  # noqa: S603 - the user's own arguments


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m devtools.regtest``; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="node_runtime: %(message)s")
    try:
        if args.command == "install":
            return _cmd_install()
        if args.command == "start":
            return _cmd_start(args)
        if args.command == "status":
            return _cmd_status(args)
        if args.command == "cli":
            return _cmd_cli(args)
        if stop(args.datadir):
            print(f"stopped: node in {Path(args.datadir).resolve()}")
        else:
            print(f"not running: nothing to stop in {Path(args.datadir).resolve()}")
        return 0
    except NodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
