"""Custody fixtures: a funded ``funder`` wallet on the session's regtest node, helpers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from accounts.models import Account, User
from accounts.services import account_open
from custody.models import ChainCursor
from custody.node import NodeClient, node_client, sats
from custody.services import internal_address_new, wallet_load_or_create
from custody.services.deposit_blocks import BLOCK_CURSOR_NAME
from custody.services.deposits import CURSOR_NAME


def chain_sync(client: NodeClient | None = None) -> None:
    """Wait until every wallet has seen what the node validated.

    A wallet learns of new blocks and mempool transactions asynchronously (bitcoind's
    validation interface queue): a scan right after a send or a block could miss it
    under load. Every test that changes the chain and then reads a wallet calls this.
    """
    (client or node_client()).call("syncwithvalidationinterfacequeue")


@dataclass
class Chain:
    """The regtest chain as tests drive it: a funder wallet, mining, the hot wallet.

    Clients are built on each use: a restarted node has a new port and password.
    """

    mine_address: str = ""

    @property
    def client(self) -> NodeClient:
        return node_client()

    @property
    def funder(self) -> NodeClient:
        return node_client().wallet("funder")

    @property
    def hot(self) -> NodeClient:
        return node_client().wallet(str(settings.CUSTODY_HOT_WALLET))

    def mine(self, blocks: int = 1) -> list[str]:
        hashes = list(self.client.call("generatetoaddress", blocks, self.mine_address))
        self.sync()
        return hashes

    def sync(self) -> None:
        chain_sync(self.client)

    def send(self, address: str, amount_sats: int) -> str:
        """Pay ``address`` from the funder wallet; return once every wallet has seen it."""
        txid = self.funder.send_to_address(address, amount_sats)
        self.sync()
        return txid

    def node(self, method: str, *params: Any) -> Any:
        """Call a chain-changing RPC (``invalidateblock``, ``generateblock``...) and sync."""
        result = self.client.call(method, *params)
        self.sync()
        return result

    def tip(self) -> str:
        return str(self.client.call("getbestblockhash"))

    def new_funder_address(self) -> str:
        return str(self.funder.call("getnewaddress", "", "bech32"))

    def received_outputs(self, address: str) -> list[tuple[str, int, int]]:
        """Every (txid, vout, sats) paying ``address`` in confirmed funder transactions."""
        found: list[tuple[str, int, int]] = []
        for txid in self.funder.call("listreceivedbyaddress", 1, True, True, address)[0]["txids"]:
            raw = self.client.call("getrawtransaction", txid, True, self.block_of(txid))
            for out in raw["vout"]:
                if out["scriptPubKey"].get("address") == address:
                    found.append((txid, int(out["n"]), sats(out["value"])))
        return found

    def block_of(self, txid: str) -> str:
        return str(self.funder.call("gettransaction", txid)["blockhash"])


# Custody tests run on a hot wallet of their own, so the coins they leave behind never
# change what other apps' tests on the same session node see in theirs.
HOT_WALLET = "hot-custody-tests"


@pytest.fixture(autouse=True)
def _own_hot_wallet(settings: Any) -> None:
    settings.CUSTODY_HOT_WALLET = HOT_WALLET


@pytest.fixture(scope="session")
def chain(bitcoind: str) -> Chain:
    """The node with the hot and ``funder`` wallets loaded and 101 blocks mined to funder."""
    client = node_client()
    wallet_load_or_create(client=client, name=HOT_WALLET)
    wallet_load_or_create(client=client, name="funder")
    chain = Chain()
    chain.mine_address = chain.new_funder_address()
    if client.call("getblockcount") < 101:
        chain.mine(101)
    return chain


@pytest.fixture
def own_hot_wallet(chain: Chain, settings: Any) -> Iterator[str]:
    """A hot wallet for this test alone: what it finds there (coins, locks) is its own."""
    name = f"hot-{uuid.uuid4().hex[:8]}"
    wallet_load_or_create(client=node_client(), name=name)
    settings.CUSTODY_HOT_WALLET = name
    yield name
    node_client().call("unloadwallet", name)


@pytest.fixture
def scan_from_tip(chain: Chain, db: None) -> None:
    """Start the deposit cursors at the tip, so earlier tests' outputs are not re-read."""
    for name in (CURSOR_NAME, BLOCK_CURSOR_NAME):
        ChainCursor.objects.update_or_create(name=name, defaults={"block_hash": chain.tip()})


@pytest.fixture
def hot_funded(chain: Chain, db: None, request: pytest.FixtureRequest) -> Callable[[int], None]:
    """Put ``amount_sats`` on-chain in the hot wallet (confirmed), to an internal address.

    In a fault test (marked ``faults``) the coins come as a real customer deposit
    instead (``books``), so the ledger stands behind them and reconciliation holds.
    """
    if request.node.get_closest_marker("faults") is not None:
        books: Books = request.getfixturevalue("books")

        def fund_by_deposit(amount_sats: int) -> None:
            books.deposit(books.float_account(), amount_sats)

        return fund_by_deposit

    def fund_hot(amount_sats: int) -> None:
        address = internal_address_new(label="test funding").address
        chain.send(address, amount_sats)
        chain.mine(1)

    return fund_hot


@pytest.fixture
def funded_account(
    request: pytest.FixtureRequest, make_user: Callable[..., User]
) -> Callable[..., Account]:
    """An account with ``amount_minor``: booked on the ledger only, or in a fault test
    (marked ``faults``) paid in as a real deposit on this test's own wallets (``books``)."""
    from tests.conftest import fund

    books: Books | None = None
    if request.node.get_closest_marker("faults") is not None:
        books = request.getfixturevalue("books")

    def make(amount_minor: int = 0, currency: str = "BTC", owner: User | None = None) -> Account:
        account = account_open(owner=owner or make_user(), currency=currency)
        if amount_minor and books is not None and currency == "BTC":
            books.deposit(account, amount_minor)
        elif amount_minor:
            fund(account, amount_minor)
        account.refresh_from_db()
        return account

    return make


@dataclass
class Books:
    """A fault test's bank: its own hot and cold wallets, money in only by real deposits.

    Node and ledger then start equal (both at zero), so after the fault the test can
    assert both ``ledger_check`` and reconciliation (``books.check()``).
    """

    chain: Chain
    make_user: Callable[..., User]
    floats: list[Account] = field(default_factory=list)

    def deposit(self, account: Account, amount_sats: int) -> str:
        """Pay ``account`` a deposit from outside, confirm it and scan it in (credited)."""
        from custody.services import deposit_address_new, deposit_scan

        address = deposit_address_new(account=account).address
        txid = self.chain.send(address, amount_sats)
        self.chain.mine(int(settings.DEPOSIT_CONFIRMATIONS))
        deposit_scan()
        account.refresh_from_db()
        assert account.posted_minor >= amount_sats  # the funding deposit was credited
        return txid

    def float_account(self) -> Account:
        """A customer whose deposit stands behind the hot wallet's spare coins."""
        if not self.floats:
            self.floats.append(account_open(owner=self.make_user(), currency="BTC"))
        return self.floats[0]

    def check(self) -> Any:
        """Assert the ledger's invariants and that reconciliation finds node = ledger."""
        from accounts.selectors import ledger_check
        from treasury.services import reconcile

        assert ledger_check() == []
        run = reconcile(trigger="test")
        assert (run.status, run.differences, run.unknown_transactions) == ("ok", [], [])
        return run


@pytest.fixture
def books(chain: Chain, db: None, make_user: Callable[..., User]) -> Iterator[Books]:
    """This test's own hot, cold and signer wallets (treasury's), funded by real deposits."""
    from tests.treasury.conftest import treasury_wallets

    # The fee market earlier tests leave on the session node can push a batch's miner fee
    # above the customer's published fee; the bank pays the difference from money that
    # is not on the chain, and reconciliation rightly shows a reserve ratio below 100%.
    # Fault tests are about recovery, so the fee rate is kept where the fee covers it.
    with treasury_wallets(chain.mine_address), override_settings(FEE_RATE_CAP_SAT_VB=4):
        yield Books(chain=chain, make_user=make_user)


def refresh(account: Account) -> Account:
    account.refresh_from_db()
    return account


@pytest.fixture(autouse=True)
def _compliance_amount_rules_off(request: pytest.FixtureRequest) -> None:
    """Custody's tests exercise the mechanics (batching, crash safety, concurrency).

    Compliance's amount and pattern rules would send their many or large withdrawals
    to review; they are tested in tests/compliance. The sanctions rule stays on.
    """
    marker = request.node.get_closest_marker("django_db")
    if marker is None and not {"db", "transactional_db"} & set(request.fixturenames):
        return
    transactional = bool(marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    from compliance.models import RuleConfig

    for name in (
        "large_amount",
        "velocity",
        "first_address",
        "structuring",
        "dormant",
        "travel_rule",
    ):
        RuleConfig.objects.update_or_create(name=name, defaults={"enabled": False})


def review_at_sats(amount_sats: int) -> None:
    """Send withdrawals of ``amount_sats`` or more to review through compliance's rule.

    Screening has one threshold model, the KZT rules: this enables ``large_amount`` with
    its threshold set to the KZT value of ``amount_sats`` at the current rate.
    """
    from compliance.models import RuleConfig
    from exchange.rates import kzt_value_tiyn

    threshold_tiyn = kzt_value_tiyn(amount_minor=amount_sats, currency="BTC")
    RuleConfig.objects.update_or_create(
        name="large_amount",
        defaults={"enabled": True, "params": {"threshold_tiyn": threshold_tiyn}},
    )
