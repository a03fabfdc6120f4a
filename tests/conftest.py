"""Shared fixtures. Tests run on the real PostgreSQL and Redis (see README)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection, connections

from accounts.models import Account, AccountKind, User
from accounts.services.accounts import account_open, ledger_bootstrap, system_account
from accounts.services.transfers import transfer_create


@pytest.fixture(autouse=True)
def _ledger_base(request: pytest.FixtureRequest) -> None:
    """Give every database test the audit chain head and the system accounts.

    Transactional tests flush every table afterwards, data migrations included,
    so the base is re-created at the start of each test that uses the database.
    """
    marker = request.node.get_closest_marker("django_db")
    uses_db = marker is not None or any(
        name in request.fixturenames for name in ("db", "transactional_db", "live_server")
    )
    if uses_db:
        request.getfixturevalue(
            "transactional_db" if marker and marker.kwargs.get("transaction") else "db"
        )
        ledger_bootstrap()


@pytest.fixture(autouse=True)
def _webhook_production_rules(settings: Any) -> None:
    """Webhooks refuse loopback and private targets in every test, as in production.

    Only a test that needs a receiver on 127.0.0.1 lifts it, through the ``receiver``
    fixture (tests/merchants/conftest.py).
    """
    settings.MERCHANT_WEBHOOK_ALLOW_PRIVATE = False


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    counter = {"n": 0}

    def make(
        email: str | None = None, password: str = "correct-horse-battery", **extra: Any
    ) -> User:
        counter["n"] += 1
        return User.objects.create_user(
            email=email or f"user{counter['n']}-{threading.get_ident()}@example.kz",
            password=password,
            **extra,
        )

    return make


def fund(account: Account, amount_minor: int) -> None:
    """Credit an account from the bank's external counterpart (test money in)."""
    source = system_account(
        AccountKind.CUSTODY_HOT if account.currency == "BTC" else AccountKind.EXTERNAL,
        account.currency,
    )
    transfer_create(
        debit_account_id=source.pk,
        credit_account_id=account.pk,
        amount_minor=amount_minor,
        code="deposit" if account.currency == "BTC" else "adjustment",
        memo="test funding",
    )
    account.refresh_from_db()


@pytest.fixture
def funded_account(make_user: Callable[..., User]) -> Callable[..., Account]:
    def make(amount_minor: int = 0, currency: str = "BTC", owner: User | None = None) -> Account:
        account = account_open(owner=owner or make_user(), currency=currency)
        if amount_minor:
            fund(account, amount_minor)
        return account

    return make


class RaceBroken(AssertionError):
    """The threads of a concurrency test did not all start together."""


def run_threads(
    count: int, target: Callable[[int], Any], *, max_open: int = 80, start_timeout_s: float = 30
) -> list[Any]:
    """Run ``target(i)`` in ``count`` threads, each with its own database connection.

    ``max_open`` bounds how many connections are open at once: PostgreSQL here
    allows 100 in all. The first ``min(count, max_open)`` threads wait at one barrier
    and are released together; if the barrier breaks (a thread was not there within
    its timeout) the run fails with how many threads reached it, because the
    concurrency under test did not happen. Results (or the exception raised) are
    returned in order.
    """
    results: list[Any] = [None] * count
    gate = threading.Semaphore(max_open)
    parties = min(count, max_open)
    start = threading.Barrier(parties)
    arrived = {"n": 0}
    raced: dict[str, int] = {}  # how many had reached the barrier when it broke
    lock = threading.Lock()

    def work(i: int) -> None:
        with gate:
            try:
                with lock:
                    ticket = arrived["n"]
                    arrived["n"] += 1
                if ticket < parties:  # the first threads in race; the rest follow as slots free
                    try:
                        start.wait(timeout=start_timeout_s)
                    except threading.BrokenBarrierError:
                        with lock:
                            raced.setdefault("n", min(arrived["n"], parties))
                        return
                results[i] = target(i)
            except Exception as exc:
                results[i] = exc
            finally:
                connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    alive = sum(thread.is_alive() for thread in threads)
    if raced:
        raise RaceBroken(f"only {raced['n']} of {parties} threads reached the start barrier")
    if alive:
        raise RaceBroken(f"{alive} of {count} threads still running after 120 s")
    return results


class GuardWindow:
    """Hold a thread inside a guarded section until each other thread entered it or gave up.

    For tests of a guard (a lock, a claim): wrap each thread's call in ``run(...)`` and
    call ``enter()`` at a point only a thread past the guard reaches. With the guard,
    the others are refused while the first is still inside, so ``entered`` is 1; without
    it every thread gets in and waits there for the rest, so ``entered`` is the thread
    count. No timing decides it: a thread waits for the others' events, never for a
    clock (``timeout_s`` only turns a hang into a failure).
    """

    def __init__(self, parties: int, timeout_s: float = 90) -> None:
        self.parties = parties
        self.timeout_s = timeout_s
        self._cond = threading.Condition()
        self._entered: set[int] = set()
        self._done: set[int] = set()

    @property
    def entered(self) -> int:
        return len(self._entered)

    def enter(self) -> None:
        me = threading.get_ident()
        with self._cond:
            self._entered.add(me)
            self._cond.notify_all()
            if not self._cond.wait_for(
                lambda: len(self._entered | self._done) >= self.parties, timeout=self.timeout_s
            ):
                raise RaceBroken(
                    f"{self.entered} entered and {len(self._done)} finished of {self.parties}"
                )

    def run(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        finally:
            with self._cond:
                self._done.add(threading.get_ident())
                self._cond.notify_all()


@pytest.fixture
def no_extra_connections() -> Iterator[None]:
    yield
    connection.close()


@pytest.fixture(scope="session")
def bitcoind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A regtest node for the whole run, started by ``manage.py bitcoind`` on free ports.

    Its datadir is a fresh temporary folder; the client finds the RPC URL in the
    datadir's state file (settings overridden for the session). With ``BITCOIND_RPC_URL``
    set, that external node is used and nothing is started. Yields the datadir.
    """
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings

    if settings.BITCOIND_RPC_URL:
        yield str(settings.BITCOIND_DATADIR)
        return
    datadir = str(tmp_path_factory.mktemp("bitcoind"))
    call_command("bitcoind", "start", "--datadir", datadir, "--no-blocknotify")
    override = override_settings(BITCOIND_RPC_URL="", BITCOIND_DATADIR=datadir)
    override.enable()
    try:
        yield datadir
    finally:
        override.disable()
        call_command("bitcoind", "stop", "--datadir", datadir)


def rate_feed(mid_tiyn_per_btc: int, spread_bp: int = 100) -> Any:
    """Set the BTC/KZT rate as the system's rate feed would, for tests about other things.

    The jump bound (a control, tested in tests/exchange) is lifted here so a test can move
    the rate as far as its story needs; staff-set rates keep the bound.
    """
    from django.test import override_settings

    from exchange.services import exchange_rate_set

    with override_settings(EXCHANGE_RATE_JUMP_MAX_BP=10**9):
        return exchange_rate_set(mid_tiyn_per_btc=mid_tiyn_per_btc, spread_bp=spread_bp, actor=None)


@dataclass
class NodeCalls:
    """Every node call a test made: (method, whether a database transaction was open)."""

    calls: list[tuple[str, bool]] = field(default_factory=list)

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]

    def inside_transaction(self) -> list[str]:
        return [method for method, inside in self.calls if inside]


@pytest.fixture
def node_calls(monkeypatch: pytest.MonkeyPatch) -> NodeCalls:
    """Record each node call of the real client and whether it ran inside a transaction.

    Outside a transaction no row lock can be held. Use it in transactional tests
    (``django_db(transaction=True)``): elsewhere the test itself runs in a transaction.
    """
    from custody.node import NodeClient

    log = NodeCalls()
    real_call = NodeClient.call

    def call(self: NodeClient, method: str, *params: Any) -> Any:
        log.calls.append((method, connection.in_atomic_block))
        return real_call(self, method, *params)

    monkeypatch.setattr(NodeClient, "call", call)
    return log


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def chromium_path() -> str:
    """Return the Chromium the browser tests drive, found the way ``bank.testenv`` finds it.

    Missing, a local run skips the browser tests; in CI (``CI=true``) it fails them,
    so a runner without a browser can never pass by skipping.
    """
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
    )
    if found:
        return found
    message = "Chromium is not installed: run scripts/ensure-chromium.sh"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message} (CI=true: the browser tests must run)")
    pytest.skip(message)
