"""The node client and commands against the real regtest node."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from custody.errors import NodeInvalidAddress, NodeUnavailable, WalletNotFound
from custody.models import Wallet, WalletKind
from custody.node import node_client, node_url
from custody.services import wallets_setup
from tests.custody.conftest import Chain

pytestmark = pytest.mark.node


def test_client_reads_url_from_datadir_state_file(bitcoind: str) -> None:
    assert node_url().startswith("http://")
    info = node_client().call("getblockchaininfo")
    assert info["chain"] == "regtest"


def test_rpc_errors_are_typed(chain: Chain) -> None:
    with pytest.raises(WalletNotFound) as missing:
        node_client().wallet("no-such-wallet").call("getbalance")
    assert missing.value.rpc_code == -18
    with pytest.raises(NodeInvalidAddress):
        chain.hot.call("getaddressinfo", "bc1qnotanaddress")


def test_balance_is_integer_satoshis(chain: Chain) -> None:
    balance = chain.funder.balance_sats()
    assert isinstance(balance, int)
    assert balance > 0


def test_no_node_is_node_unavailable(tmp_path: Path, bitcoind: str) -> None:
    empty = override_settings(BITCOIND_RPC_URL="", BITCOIND_DATADIR=str(tmp_path))
    with empty, pytest.raises(NodeUnavailable):
        node_client().call("getblockchaininfo")
    refused = "http://u:p@127.0.0.1:9/"
    with override_settings(BITCOIND_RPC_URL=refused), pytest.raises(NodeUnavailable):
        node_client().call("getblockchaininfo")


@pytest.mark.django_db
def test_wallets_setup_is_idempotent(chain: Chain) -> None:
    wallets_setup()
    wallets_setup()
    hot = Wallet.objects.get(name=settings.CUSTODY_HOT_WALLET)
    assert hot.kind == WalletKind.HOT
    assert Wallet.objects.count() == 1
    call_command("wallets_setup")


def test_bitcoind_command_status_and_start_are_idempotent(
    bitcoind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("bitcoind", "status", "--datadir", bitcoind)
    call_command("bitcoind", "start", "--datadir", bitcoind, "--no-blocknotify")
    out = capsys.readouterr().out
    assert "running" in out
    assert "already running" in out
