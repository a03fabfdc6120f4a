"""``make run``: bring the whole bank up on one machine with demo data.

Resolves PostgreSQL and Redis (embedded fallbacks when nothing answers),
starts a regtest bitcoind, migrates, loads demo data, then runs gunicorn,
two Celery workers (custody queues apart) and Celery beat until Ctrl-C, and stops what it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bank import webserver
from bank.localenv import ROOT, VAR, create_database, prepare_environment, say

PY = sys.executable
HOST = os.environ.get("ALATAU_HOST", "127.0.0.1")
PORT = os.environ.get("ALATAU_PORT", "8000")
# Money-moving queues get their own worker, so a slow merchant's webhook or a long report
# never delays a deposit or a withdrawal (README: "What runs where").
WORKERS = {
    "worker-custody": "deposits,withdrawals",
    "worker-other": "default,webhooks,reports",
}


def manage(*args: str) -> None:
    subprocess.run([PY, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)  # noqa: S603


def start(name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    log = (VAR / "log" / f"{name}.log").open("ab")
    say(f"starting {name} (log: var/log/{name}.log)")
    return subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603


def main() -> None:
    (VAR / "log").mkdir(parents=True, exist_ok=True)
    values = prepare_environment()
    # Absolute checkout links in invoices and webhooks point at this local server.
    os.environ.setdefault("MERCHANT_PUBLIC_BASE_URL", f"http://{HOST}:{PORT}")
    create_database(values["DATABASE_URL"])
    node_started = False
    processes: list[subprocess.Popen[bytes]] = []
    try:
        if not os.environ.get("BITCOIND_RPC_URL"):
            manage("bitcoind", "install")
            manage("bitcoind", "start")
            node_started = True
        manage("migrate", "--noinput")
        manage("collectstatic", "--noinput", "-v0")
        manage("demo_seed")
        processes = start_processes()
        print_banner()
        wait_for_signal(processes)
    finally:
        stop_processes(processes)
        if node_started:
            manage("bitcoind", "stop")
        say("stopped")


def start_processes() -> list[subprocess.Popen[bytes]]:
    # gunicorn's workers share request metrics through this directory (bank/metrics.py).
    metrics_dir = VAR / "prometheus"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return [
        start("web", webserver.command(HOST, int(PORT), access_log=True, log_level="info")),
        *[start(name, [PY, "-m", "celery", "-A", "bank", "worker", "-Q", queues, "-c", "2",
                       "-n", f"{name}@%h", "--loglevel", "INFO"])
          for name, queues in WORKERS.items()],
        start("beat", [PY, "-m", "celery", "-A", "bank", "beat", "--loglevel", "INFO"]),
    ]  # fmt: skip


def print_banner() -> None:
    demo = Path(VAR / "demo-logins.txt")
    print(
        f"""
Alatau is up.
  Web banking     http://{HOST}:{PORT}/
  Staff admin     http://{HOST}:{PORT}/admin/   (2FA: see demo logins)
  Merchant API    http://{HOST}:{PORT}/api/docs/
  Health          http://{HOST}:{PORT}/healthz
  Mail (dev)      {os.environ.get("EMAIL_FILE_PATH", VAR / "mail")}
Demo logins:
{demo.read_text() if demo.exists() else "  (none)"}
Ctrl-C stops everything.
""",
        flush=True,
    )


def wait_for_signal(processes: list[subprocess.Popen[bytes]]) -> None:
    """Block until Ctrl-C/SIGTERM or until one of the processes exits."""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        for proc in processes:
            if proc.poll() is not None:
                say(f"process {proc.pid} exited with {proc.returncode}; see var/log/")
                stopping = True
        time.sleep(1)


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:
        proc.terminate()
    for proc in processes:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
