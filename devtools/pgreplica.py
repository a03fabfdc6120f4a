"""A private PostgreSQL primary and its streaming replica, from the machine's binaries.

For the tests of the read-replica router (``core/db_reads.py``): ``start_pair`` runs
``initdb`` for a primary in a temporary directory (trust auth on 127.0.0.1, replication
allowed, ``wal_level=replica``), takes ``pg_basebackup -R`` of it for a hot standby and
starts both on free ports. The standby replicates the whole cluster, so a database
created on the primary appears on the replica once replayed.

``wait_replayed`` waits for the replica to replay the primary's WAL without sleeping:
the primary names the standby in ``synchronous_standby_names`` (commits wait for nothing
by default, ``synchronous_commit=local``), and the wait commits one transaction with
``synchronous_commit=remote_apply``, which returns when the standby has applied it.

PostgreSQL refuses to run as root: as root the commands run as the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

STANDBY_NAME = "alatau_replica"
_NEEDED = ("initdb", "pg_ctl", "pg_basebackup", "postgres")


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` (or ``$PG_BINDIR``) with what a pair needs."""
    candidates = [Path(os.environ["PG_BINDIR"])] if os.environ.get("PG_BINDIR") else []
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates + found:
        if all((bindir / tool).exists() for tool in _NEEDED):
            return bindir
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class Cluster:
    bindir: Path
    datadir: Path
    port: int

    def run(self, tool: str, *args: str) -> None:
        command = [*_as_server_user(), str(self.bindir / tool), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=120)  # noqa: S603

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def conf(self, name: str, lines: list[str]) -> None:
        with (self.datadir / name).open("a") as handle:
            handle.write("\n".join(lines) + "\n")

    def start(self) -> Cluster:
        log = str(self.datadir / "server.log")
        self.run("pg_ctl", "-D", str(self.datadir), "-l", log, "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "60", "stop")

    def server_settings(self) -> list[str]:
        return [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.datadir}'",
            "shared_buffers = '32MB'",
            "fsync = off",  # a throwaway test cluster; replication does not depend on it
        ]


@dataclass
class Pair:
    root: Path
    primary: Cluster
    replica: Cluster

    def close(self) -> None:
        for cluster in (self.replica, self.primary):
            with contextlib.suppress(subprocess.CalledProcessError):
                cluster.stop()  # fails when already stopped
        shutil.rmtree(self.root, ignore_errors=True)


def start_pair(bindir: Path) -> Pair:
    """Start a primary and a hot standby streaming from it; return both."""
    root = Path(tempfile.mkdtemp(prefix="alatau-pgpair-"))
    _own(root)
    primary = Cluster(bindir, root / "primary", free_port())
    primary.run(
        "initdb", "-D", str(primary.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8"
    )
    primary.conf(
        "postgresql.conf",
        [
            *primary.server_settings(),
            "wal_level = replica",
            "max_wal_senders = 4",
            f"synchronous_standby_names = '{STANDBY_NAME}'",
            "synchronous_commit = local",  # only wait_replayed waits for the standby
        ],
    )
    # initdb's trust pg_hba.conf already allows replication from 127.0.0.1.
    primary.start()
    replica = Cluster(bindir, root / "replica", free_port())
    replica.run(
        "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
        "-D", str(replica.datadir), "-R", "-X", "stream", "-c", "fast",
    )  # fmt: skip
    replica.conf("postgresql.conf", replica.server_settings())
    # -R wrote primary_conninfo; name the standby so that remote_apply can wait for it.
    replica.conf(
        "postgresql.auto.conf",
        [
            f"primary_conninfo = 'host=127.0.0.1 port={primary.port} user=postgres "
            f"application_name={STANDBY_NAME}'"
        ],
    )
    replica.start()
    return Pair(root, primary, replica)


def current_lsn(primary_url: str) -> str:
    with psycopg.connect(primary_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    return str(row[0])


def wait_replayed(pair: Pair, *, timeout_s: int = 60) -> str:
    """Return once the replica has applied everything committed on the primary so far.

    Commits one transaction with ``remote_apply``: the commit returns when the standby
    has replayed it (and so all WAL before it). Returns the replica's replay position.
    """
    with psycopg.connect(pair.primary.url(), autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = '{int(timeout_s)}s'")
        target = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        conn.execute("SET synchronous_commit = remote_apply")
        # A transactional WAL message: its commit record is what remote_apply waits for.
        conn.execute("SELECT pg_logical_emit_message(true, %s, %s)", ["alatau", "replayed?"])
    with psycopg.connect(pair.replica.url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_last_wal_replay_lsn()::text, pg_last_wal_replay_lsn() >= %s::pg_lsn",
            [target[0] if target else "0/0"],
        ).fetchone()
    if not row or not row[1]:
        raise TimeoutError(f"replica did not replay to {target} within {timeout_s}s")
    return str(row[0])
