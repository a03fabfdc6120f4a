"""``manage.py bitcoind install|start|stop|status``: the project's regtest node.

A thin wrapper of ``devtools.regtest``. ``start`` runs the node in
``settings.BITCOIND_DATADIR`` (or ``--datadir``) and records its RPC URL in the datadir's
state file, where ``custody.node`` finds it while ``BITCOIND_RPC_URL`` is empty. Every
action is idempotent. With ``BITCOIND_RPC_URL`` set the node is external: ``start`` and
``stop`` leave it alone and ``status`` asks it over RPC.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from custody.errors import NodeError, NodeUnavailable
from custody.node import node_client
from devtools import regtest as node_runtime


class Command(BaseCommand):
    help = "Install, start, stop or report on the regtest bitcoind (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["install", "start", "stop", "status"])
        parser.add_argument("--datadir", default=None, help="default: BITCOIND_DATADIR")
        parser.add_argument(
            "--no-blocknotify", action="store_true",
            help="do not trigger a deposit scan on every new block",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        datadir = Path(options["datadir"] or settings.BITCOIND_DATADIR)
        try:
            if action == "install":
                binaries = node_runtime.install()
                self.stdout.write(f"installed: {binaries.version()} in {binaries.bin_dir}")
            elif settings.BITCOIND_RPC_URL:
                self._external(action)
            elif action == "start":
                self._start(datadir, blocknotify=not options["no_blocknotify"])
            elif action == "stop":
                stopped = node_runtime.stop(datadir)
                self.stdout.write(f"{'stopped' if stopped else 'not running'}: {datadir}")
            else:
                self._status(datadir)
        except node_runtime.NodeError as exc:
            raise CommandError(str(exc)) from exc

    def _start(self, datadir: Path, *, blocknotify: bool) -> None:
        current = node_runtime.status(datadir)
        if current.running:
            self.stdout.write(f"already running: pid {current.pid}, {current.detail}")
            return
        hook = None
        if blocknotify:
            manage = Path(settings.BASE_DIR) / "manage.py"
            hook = " ".join(shlex.quote(part) for part in (
                sys.executable, str(manage), "deposits_scan", "--enqueue", "--quiet",
            ))  # fmt: skip
        started = node_runtime.start(datadir, block_notify=hook, detach=True)
        self.stdout.write(f"started: pid {started.pid}, RPC port {started.rpc_port}, {datadir}")

    def _status(self, datadir: Path) -> None:
        found = node_runtime.status(datadir)
        if not found.running:
            raise CommandError(f"not running: {found.detail} (datadir {found.datadir})")
        self.stdout.write(f"running: pid {found.pid}, {found.detail}, datadir {found.datadir}")

    def _external(self, action: str) -> None:
        if action in ("start", "stop"):
            self.stdout.write(f"BITCOIND_RPC_URL is set: the node is external, nothing to {action}")
            if action == "stop":
                return
        try:
            info = node_client().call("getblockchaininfo")
        except (NodeUnavailable, NodeError) as exc:
            raise CommandError(f"external node not answering: {exc}") from exc
        self.stdout.write(f"running (external): chain {info['chain']}, {info['blocks']} blocks")
