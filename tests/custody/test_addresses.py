"""Local, network-aware address checks and BIP21 links (no node needed)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from custody.addresses import address_parse, bip21_uri
from custody.errors import AddressInvalid

REGTEST_P2WPKH = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
MAINNET_P2WPKH = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
MAINNET_P2PKH = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
MAINNET_P2SH = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
TESTNET_P2PKH = "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"
MAINNET_TAPROOT = "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"


def test_regtest_accepts_regtest_and_testnet_base58() -> None:
    assert address_parse(REGTEST_P2WPKH.upper()).address == REGTEST_P2WPKH
    assert address_parse(f"  {REGTEST_P2WPKH} ").kind == "witness_v0"
    assert address_parse(TESTNET_P2PKH).kind == "p2pkh"  # regtest shares testnet prefixes


@pytest.mark.parametrize(
    "address", [MAINNET_P2WPKH, MAINNET_P2PKH, MAINNET_P2SH, MAINNET_TAPROOT, "",
                "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt081", "x" * 100, "bcrt1ünicode"],
)  # fmt: skip
def test_regtest_refuses_other_networks_and_garbage(address: str) -> None:
    with pytest.raises(AddressInvalid):
        address_parse(address)


@override_settings(BITCOIN_NETWORK="main")
def test_mainnet_accepts_mainnet_only() -> None:
    for address in (MAINNET_P2WPKH, MAINNET_P2PKH, MAINNET_P2SH, MAINNET_TAPROOT):
        assert address_parse(address).address == address
    for address in (REGTEST_P2WPKH, TESTNET_P2PKH):
        with pytest.raises(AddressInvalid):
            address_parse(address)


def test_bip21() -> None:
    assert bip21_uri(REGTEST_P2WPKH) == f"bitcoin:{REGTEST_P2WPKH}"
    assert bip21_uri(REGTEST_P2WPKH, amount_sats=100_000_000, label="Shop & Co") == (
        f"bitcoin:{REGTEST_P2WPKH}?amount=1&label=Shop%20%26%20Co"
    )
    assert bip21_uri(REGTEST_P2WPKH, amount_sats=1).endswith("amount=0.00000001")
