"""Treasury fixtures: fresh hot, cold (watch-only) and stand-in signer wallets per test.

The regtest node lives for the whole session but the database is reset per test, so
every test gets its own wallet names: node balances then start where the ledger does.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import TestCase, override_settings

from accounts.models import Account, User
from compliance.services import approval_approve
from custody.node import NodeClient, node_client
from custody.services import deposit_address_new, deposit_scan, wallet_load_or_create
from tests.custody.conftest import chain_sync
from treasury.services import cold_descriptors_propose, cold_signer_create


@dataclass
class Treasury:
    """The node as a test drives it: funder, mining, and this test's bank wallets."""

    mine_address: str
    hot_name: str
    cold_name: str
    signer_name: str

    @property
    def client(self) -> NodeClient:
        return node_client()

    @property
    def funder(self) -> NodeClient:
        return node_client().wallet("funder")

    @property
    def hot(self) -> NodeClient:
        return node_client().wallet(self.hot_name)

    @property
    def cold(self) -> NodeClient:
        return node_client().wallet(self.cold_name)

    @property
    def signer(self) -> NodeClient:
        return node_client().wallet(self.signer_name)

    def mine(self, blocks: int = 1) -> None:
        self.client.call("generatetoaddress", blocks, self.mine_address)
        self.sync()

    def sync(self) -> None:
        """Wait until every wallet has seen what the node validated (notifications are async)."""
        chain_sync(self.client)

    def outside_address(self) -> str:
        return str(self.funder.call("getnewaddress", "", "bech32"))

    def deposit(self, account: Account, amount_sats: int, *, scan: bool = True) -> str:
        """Pay a customer deposit address from outside; confirm and credit it."""
        address = deposit_address_new(account=account).address
        txid = self.funder.send_to_address(address, amount_sats)
        self.sync()
        self.mine(3)
        if scan:
            deposit_scan()
        return txid

    def node_total(self, client: NodeClient) -> int:
        from custody.node import sats

        mine = client.call("getbalances")["mine"]
        return sats(mine["trusted"]) + sats(mine["untrusted_pending"])


@pytest.fixture(scope="session")
def funder_node(bitcoind: str) -> str:
    """A funded ``funder`` wallet (101 blocks mined to it); return its mining address."""
    client = node_client()
    wallet_load_or_create(client=client, name="funder")
    address = str(client.wallet("funder").call("getnewaddress", "", "bech32"))
    if client.call("getblockcount") < 101:
        client.call("generatetoaddress", 101, address)
    return address


def cold_descriptors_pin(descriptors: list[str], *, range_end: int = 200) -> None:
    """Pin descriptors as the bank does: one operator proposes, another approves (four eyes)."""
    perm = Permission.objects.get(content_type__app_label="compliance",
                                  codename="approve_cold_move")  # fmt: skip
    people = []
    for n in range(2):
        user = User.objects.create_user(email=f"pin-{uuid.uuid4().hex[:8]}-{n}@alatau.kz",
                                        password="x-Pin-password-1", is_staff=True)  # fmt: skip
        user.user_permissions.add(perm)
        people.append(User.objects.get(pk=user.pk))
    proposal = cold_descriptors_propose(descriptors=descriptors, actor=people[0],
                                        range_end=range_end)  # fmt: skip
    with TestCase.captureOnCommitCallbacks(execute=True):
        approval_approve(actor=people[1], request_id=proposal.pk, reason="key ceremony")


@contextlib.contextmanager
def treasury_wallets(mine_address: str) -> Iterator[Treasury]:
    """Fresh hot, watch-only cold and stand-in signer wallets, the settings pointed at them.

    Node balances then start where a fresh test database's ledger does (at zero), so
    reconciliation can be asserted; custody's fault tests use it too.
    """
    tag = uuid.uuid4().hex[:8]
    t = Treasury(mine_address, f"hot-{tag}", f"cold-{tag}", f"cold-signer-{tag}")
    with override_settings(CUSTODY_HOT_WALLET=t.hot_name, TREASURY_COLD_WALLET=t.cold_name,
                           TREASURY_SIGNER_WALLET=t.signer_name):  # fmt: skip
        wallet_load_or_create(client=node_client(), name=t.hot_name)
        descriptors = cold_signer_create()
        cold_descriptors_pin(descriptors)
        yield t
    for name in (t.hot_name, t.cold_name, t.signer_name):
        node_client().call("unloadwallet", name)


@pytest.fixture
def treasury(funder_node: str, db: None) -> Iterator[Treasury]:
    """This test's hot wallet, watch-only cold wallet fed by a stand-in signer."""
    with treasury_wallets(funder_node) as t:
        yield t


@pytest.fixture
def custody_staff(make_user: Callable[..., User]) -> Callable[[], User]:
    """Make a staff member holding the custody permission (cold moves, four eyes)."""
    perm = Permission.objects.get(content_type__app_label="compliance",
                                  codename="approve_cold_move")  # fmt: skip

    def make(**extra: Any) -> User:
        user = make_user(is_staff=True, **extra)
        user.user_permissions.add(perm)
        return User.objects.get(pk=user.pk)  # a fresh object: no stale permission cache

    return make
