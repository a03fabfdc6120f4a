"""``make test``'s runner: make sure the services and tools exist, then run the command.

Resolves PostgreSQL and Redis (embedded fallbacks as in ``make run``),
installs headless Chromium from Debian's packages if missing (the browser
tests need it), installs the regtest node into the user cache, then replaces
runs the given command (normally pytest) and exits with its status.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from bank.localenv import ROOT, prepare_environment, say


def ensure_chromium() -> None:
    if shutil.which("chromium") or os.path.exists("/usr/bin/chromium"):
        return
    script = ROOT / "scripts" / "ensure-chromium.sh"
    if script.exists():
        say("installing Debian's chromium and chromium-driver for the browser tests")
        subprocess.run(["bash", str(script)], check=True)  # noqa: S603,S607


def ensure_node() -> None:
    if os.environ.get("BITCOIND_RPC_URL"):
        return
    from devtools import regtest as node_runtime

    node_runtime.install()


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m bank.testenv COMMAND [ARGS...]")
    values = prepare_environment()
    say(f"tests use {values['DATABASE_URL'].rsplit('@', 1)[-1]} and {values['CELERY_BROKER_URL']}")
    ensure_chromium()
    ensure_node()
    # Importing ``bank`` set DJANGO_SETTINGS_MODULE to the production settings (the
    # Celery app does); the test runner must pick its own from pyproject.toml.
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    # A child, not exec: embedded servers started above live until it ends.
    result = subprocess.run(argv, check=False)  # noqa: S603 - the Makefile passes pytest
    raise SystemExit(result.returncode)


if __name__ == "__main__":
    main(sys.argv[1:])
