"""Install, start, stop and report on a regtest Bitcoin node for development and tests.

Why this module exists: custody code has to be tested against a real node speaking the
real JSON-RPC, but Debian bookworm ships no ``bitcoind`` and the workplace can only reach
package registries.  Debian trixie ships Bitcoin Knots (a Bitcoin Core derivative with the
same RPC), so :func:`install` downloads it and the trixie runtime libraries it needs with
``apt-get download`` into a private folder, unpacks them with ``dpkg -x`` and runs the
binaries through trixie's own dynamic loader.  Nothing on the system is changed: no
package is installed and the system apt lists and caches are left alone.

The module is standard library only (no Django) so CI scripts, test fixtures and a
developer's shell can all use it before the project's virtualenv exists::

    python3 -m devtools.regtest install
    python3 -m devtools.regtest start --datadir /tmp/node   # prints the RPC URL
    python3 -m devtools.regtest status --datadir /tmp/node
    python3 -m devtools.regtest cli --datadir /tmp/node -- getblockchaininfo
    python3 -m devtools.regtest stop --datadir /tmp/node

A ``bitcoind`` found on ``PATH`` (with ``bitcoin-cli`` beside it) is used instead of the
downloaded one, so machines that have a real package installed skip the download.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import dataclasses
import datetime
import fcntl
import http.client
import json
import logging
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custody.node import STATE_FILE_NAME

log = logging.getLogger(__name__)

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

# bitcoind talks to the loopback only; a proxy from the environment must never see it.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_RPC_FAILURES = (OSError, http.client.HTTPException, ValueError)


class NodeError(RuntimeError):
    """Base class so callers can catch every failure of this module in one place."""


class NodeInstallError(NodeError):
    """Downloading or unpacking the node failed; the message carries the tool's output."""


class NodeStartError(NodeError):
    """bitcoind exited or never answered RPC; the message carries the tail of its logs."""


class RpcError(NodeError):
    """An error object returned by bitcoind (``code`` is bitcoind's, or the HTTP status)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"RPC error {code}: {message}")
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- locations


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


# --------------------------------------------------------------------------- binaries


@dataclass(frozen=True)
class NodeBinaries:
    """How to launch bitcoind and bitcoin-cli.

    The downloaded binaries are started through trixie's loader with ``--library-path``
    rather than with ``LD_LIBRARY_PATH``, so programs that bitcoind itself spawns
    (``-blocknotify`` hooks) still run against the host's own libraries.
    """

    bin_dir: Path
    loader: Path | None = None
    library_path: tuple[Path, ...] = ()

    def command_prefix(self, name: str) -> list[str]:
        """Return the argv prefix that runs binary ``name`` (e.g. ``"bitcoind"``)."""
        binary = str(self.bin_dir / name)
        if self.loader is None:
            return [binary]
        libraries = os.pathsep.join(str(path) for path in self.library_path)
        return [str(self.loader), "--library-path", libraries, binary]

    def version(self) -> str | None:
        """Return the first line of ``bitcoind -version``, or None if it does not run."""
        try:
            result = subprocess.run(  # noqa: S603 - argv built from our own paths
                [*self.command_prefix("bitcoind"), "-version"],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return None
        first_line = result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""
        if result.returncode != 0 or " version " not in first_line:
            return None
        return first_line

    def to_json(self) -> dict[str, Any]:
        """Serialise for the state file, so another process can run bitcoin-cli."""
        return {
            "bin_dir": str(self.bin_dir),
            "loader": str(self.loader) if self.loader else None,
            "library_path": [str(path) for path in self.library_path],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NodeBinaries:
        """Inverse of :meth:`to_json`."""
        loader = data.get("loader")
        return cls(
            bin_dir=Path(data["bin_dir"]),
            loader=Path(loader) if loader else None,
            library_path=tuple(Path(path) for path in data.get("library_path", ())),
        )


def bundled_binaries(root: Path) -> NodeBinaries | None:
    """Describe an unpacked trixie tree, or None if it lacks bitcoind or a loader.

    trixie is merged-/usr, so the loader is a real file in ``usr/lib/<multiarch>`` and
    ``usr/lib64`` only holds a relative symlink to it; a regular file is preferred so an
    absolute symlink can never send us to the host's (older) loader.
    """
    candidates = [
        root / "usr" / "lib" / MULTIARCH / LOADER_NAME,
        root / "lib" / MULTIARCH / LOADER_NAME,
        root / "usr" / "lib64" / LOADER_NAME,
        root / "lib64" / LOADER_NAME,
    ]
    regular = [path for path in candidates if path.is_file() and not path.is_symlink()]
    linked = [path for path in candidates if path.is_file()]
    loaders = regular or linked
    bin_dir = root / "usr" / "bin"
    if not loaders or not (bin_dir / "bitcoind").is_file():
        return None
    library_dirs = [root / "usr" / "lib" / MULTIARCH, root / "lib" / MULTIARCH]
    return NodeBinaries(
        bin_dir=bin_dir,
        loader=loaders[0],
        library_path=tuple(path for path in library_dirs if path.is_dir()),
    )


def find_binaries() -> NodeBinaries | None:
    """Return the node to use: ``bitcoind`` on PATH first, else a working cached install."""
    on_path = shutil.which("bitcoind")
    if on_path:
        bin_dir = Path(on_path).parent
        if (bin_dir / "bitcoin-cli").is_file():
            return NodeBinaries(bin_dir=bin_dir)
        log.warning("ignoring %s: no bitcoin-cli beside it", on_path)
    bundled = bundled_binaries(install_dir() / "root")
    if bundled is not None and bundled.version() is not None:
        return bundled
    return None


# --------------------------------------------------------------------------- install


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
            staged = _download_and_unpack(work)
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


def _download_and_unpack(work: Path) -> Path:
    """Fetch the .deb files with a private apt configuration and unpack them into one root."""
    apt_get = _require_tool("apt-get")
    dpkg = _require_tool("dpkg")
    options = _private_apt_options(work, _write_sources_list(work, debian_mirror()))
    log.info("updating private apt lists for %s", " ".join(DEBIAN_SUITES))
    _run([apt_get, *options, "update"])
    debs = work / "debs"
    debs.mkdir()
    packages = [KNOTS_PACKAGE, *(f"{name}/trixie" for name in RUNTIME_PACKAGES)]
    log.info("downloading %d packages", len(packages))
    _run([apt_get, *options, "download", *packages], cwd=debs)
    root = work / "root"
    root.mkdir()
    files = sorted(debs.glob("*.deb"))
    if len(files) < len(packages):
        raise NodeInstallError(f"expected {len(packages)} .deb files, got {len(files)}")
    log.info("unpacking %d packages", len(files))
    for deb in files:
        _run([dpkg, "-x", str(deb), str(root)])
    return root


def _require_tool(name: str) -> str:
    """Resolve a Debian tool to an absolute path, with a clear error off Debian."""
    path = shutil.which(name)
    if path is None:
        raise NodeInstallError(f"{name} not found: installing the node needs Debian's apt/dpkg")
    return path


def _write_sources_list(work: Path, mirror: str) -> Path:
    """Write the private one-line sources list for trixie and trixie-backports.

    bookworm's debian-archive-keyring already carries the trixie signing keys, so the
    archive signature is checked.  Only when that keyring file is missing do we fall back
    to ``trusted=yes`` (unverified downloads), and we say so in the log and in the file.
    """
    if DEBIAN_KEYRING.is_file():
        option = f"signed-by={DEBIAN_KEYRING}"
        note = "# Signatures checked against the system's Debian archive keyring."
    else:
        option = "trusted=yes"
        note = f"# {DEBIAN_KEYRING} missing: signatures NOT checked (trusted=yes fallback)."
        log.warning("%s is missing; downloading without signature checks", DEBIAN_KEYRING)
    lines = ["# Private sources of devtools.regtest; not used by the system's apt.", note]
    lines += [f"deb [{option}] {mirror} {suite} main" for suite in DEBIAN_SUITES]
    path = work / "sources.list"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _private_apt_options(work: Path, sources: Path) -> list[str]:
    """apt-get options that keep lists, caches and preferences inside ``work``."""
    for sub in ("lists/partial", "cache/archives/partial", "empty"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    settings = {
        "Dir::Etc::sourcelist": str(sources),
        "Dir::Etc::sourceparts": "-",
        "Dir::Etc::preferences": os.devnull,
        "Dir::Etc::preferencesparts": str(work / "empty"),
        "Dir::State::Lists": str(work / "lists"),
        "Dir::Cache": str(work / "cache"),
        "Dir::Cache::archives": str(work / "cache" / "archives"),
        "Acquire::Languages": "none",
    }
    options = ["-q"]
    for key, value in settings.items():
        options += ["-o", f"{key}={value}"]
    return options


def _run(argv: list[str], cwd: Path | None = None) -> str:
    """Run an install step, turning failure into NodeInstallError with the output's tail."""
    result = subprocess.run(  # noqa: S603 - fixed tools, arguments built here
        argv, cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-20:])
        raise NodeInstallError(f"{' '.join(argv[:2])} ... exited {result.returncode}:\n{tail}")
    return output


def debian_mirror(apt_etc: Path = Path("/etc/apt")) -> str:
    """Return the main Debian archive URI from the machine's apt sources.

    Reading it from the host keeps host names out of the project and follows whatever
    mirror or proxy the machine is set up for.  ``$ALATAU_DEBIAN_MIRROR`` overrides it
    (needed on non-Debian hosts, e.g. Ubuntu, whose archive has no trixie).
    """
    override = os.environ.get("ALATAU_DEBIAN_MIRROR")
    if override:
        return override.rstrip("/")
    codename = _os_codename()
    entries = [
        (uri.rstrip("/"), suites)
        for uri, suites in _apt_source_entries(apt_etc)
        if uri.startswith(("http://", "https://")) and not uri.rstrip("/").endswith("-security")
    ]
    main = [uri for uri, suites in entries if codename and codename in suites]
    other = [uri for uri, suites in entries if not any(s.endswith("-security") for s in suites)]
    for uri in main + other:
        return uri
    raise NodeInstallError(
        f"no Debian archive found in {apt_etc} sources; set ALATAU_DEBIAN_MIRROR"
    )


def _os_codename() -> str | None:
    """The host's release codename (e.g. bookworm), used to spot the main archive entry."""
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "VERSION_CODENAME":
            return value.strip().strip('"') or None
    return None


def _apt_source_entries(apt_etc: Path) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Yield ``(uri, suites)`` for every enabled ``deb`` entry, deb822 and one-line alike."""
    parts = apt_etc / "sources.list.d"
    for path in sorted(parts.glob("*.sources")):
        yield from _deb822_entries(path.read_text(encoding="utf-8", errors="replace"))
    for path in [apt_etc / "sources.list", *sorted(parts.glob("*.list"))]:
        if path.is_file():
            yield from _one_line_entries(path.read_text(encoding="utf-8", errors="replace"))


def _deb822_entries(text: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Parse deb822 ``.sources`` paragraphs (continuation lines folded into the field)."""
    for paragraph in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in paragraph.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = tuple(fields.get("suites", "").split())
        for uri in fields.get("uris", "").split():
            yield uri, suites


def _one_line_entries(text: str) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Parse one-line ``deb [options] uri suite components`` entries."""
    for raw in text.splitlines():
        tokens = raw.split("#", 1)[0].split()
        if not tokens or tokens[0] != "deb":
            continue
        tokens = tokens[1:]
        if tokens and tokens[0].startswith("["):
            while tokens and not tokens[0].endswith("]"):
                tokens = tokens[1:]
            tokens = tokens[1:]
        if len(tokens) >= 2:
            yield tokens[0], (tokens[1],)


# --------------------------------------------------------------------------- JSON-RPC


def rpc_call(
    rpc_url: str,
    method: str,
    params: Sequence[Any] = (),
    *,
    wallet: str | None = None,
    timeout: float = 30.0,
) -> Any:
    """Call one JSON-RPC method with the standard library only.

    ``rpc_url`` is ``http://user:password@host:port``; urllib does not turn userinfo into
    basic auth by itself, so the header is built here.  bitcoind reports RPC errors as
    HTTP 500 with a JSON body, which is turned into :class:`RpcError`.
    """
    parts = urllib.parse.urlsplit(rpc_url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"not an http RPC URL: {parts.scheme}://{parts.hostname}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    path = "/" if wallet is None else "/wallet/" + urllib.parse.quote(wallet, safe="")
    url = f"http://{host}:{parts.port or 80}{path}"
    body = {"jsonrpc": "1.0", "id": "alatau", "method": method, "params": list(params)}
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        request.add_header("Authorization", f"Basic {token}")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            payload = response.read()
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        if not payload:
            raise RpcError(exc.code, f"HTTP {exc.code} {exc.reason}") from exc
    reply = json.loads(payload)
    error = reply.get("error")
    if error:
        raise RpcError(int(error.get("code", 0)), str(error.get("message", "")))
    return reply.get("result")


# --------------------------------------------------------------------------- processes


def _free_port(exclude: set[int] | frozenset[int] = frozenset()) -> int:
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
            with contextlib.suppress(*_RPC_FAILURES, RpcError):
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
        temporary = self.state_file.with_suffix(".json.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=2)
        os.replace(temporary, self.state_file)

    def _remove_state(self) -> None:
        """Remove the state file only if it still describes this node."""
        state = _read_state(self.datadir)
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
            except (*_RPC_FAILURES, RpcError) as exc:  # -28 while warming up, or refused
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


def _read_state(datadir: Path) -> dict[str, Any] | None:
    """Load the state file, or None if missing or unreadable."""
    try:
        data = json.loads((datadir / STATE_FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def attach(datadir: str | os.PathLike[str]) -> NodeProcess | None:
    """Rebuild a handle to a node started earlier (by any process) in ``datadir``."""
    resolved = Path(datadir).expanduser().resolve()
    state = _read_state(resolved)
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
    rpc = rpc_port or _free_port()
    node = NodeProcess(
        resolved, chosen, rpc_port=rpc, p2p_port=p2p_port or _free_port({rpc}),
        rpc_password=secrets.token_hex(24),
    )  # fmt: skip
    with (resolved / CONSOLE_LOG_NAME).open("ab") as console:
        popen = subprocess.Popen(  # noqa: S603 - argv built from our own paths and options
            node.bitcoind_argv(extra_args, block_notify),
            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            start_new_session=detach, close_fds=True,
        )  # fmt: skip
    node.pid = popen.pid
    node._popen = popen
    if not detach:
        _LIVE_NODES.add(node)
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
    except (*_RPC_FAILURES, RpcError) as exc:
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


# --------------------------------------------------------------------------- CLI


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


if __name__ == "__main__":
    sys.exit(main())
