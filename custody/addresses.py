"""Bitcoin addresses without the node: network-aware checks and BIP21 payment links.

The local check (checksums and network prefixes through ``embit``) is what lets a
withdrawal be validated while the node is down, and it refuses a mainnet address on
regtest even when the node would not be asked at all.
"""

from __future__ import annotations

import binascii
import urllib.parse
from dataclasses import dataclass

from django.conf import settings
from embit import base58, bech32
from embit.networks import NETWORKS

from core.money import format_amount
from custody.errors import AddressInvalid

ADDRESS_LENGTH_MAX = 90
# BITCOIN_NETWORK values (bitcoind's chain names) -> embit's network table.
_EMBIT_NETWORK = {
    "main": "main",
    "mainnet": "main",
    "test": "test",
    "testnet": "test",
    "testnet4": "test",
    "signet": "signet",
    "regtest": "regtest",
}


@dataclass(frozen=True)
class ParsedAddress:
    address: str  # normalised: bech32 lower-cased
    kind: str  # p2pkh, p2sh, witness_v0, witness_v1, ...


def _network() -> dict[str, object]:
    name = str(settings.BITCOIN_NETWORK)
    try:
        return NETWORKS[_EMBIT_NETWORK[name]]
    except KeyError:
        raise AddressInvalid(f"Unknown BITCOIN_NETWORK {name!r}") from None


def _invalid(address: str, why: str) -> AddressInvalid:
    network = settings.BITCOIN_NETWORK
    return AddressInvalid(
        f"Not a valid {network} bitcoin address: {why}",
        fields={"address": [f"Enter a valid {network} bitcoin address ({why})."]},
    )


def address_parse(text: str) -> ParsedAddress:
    """Check ``text`` is an address of the configured network; return it normalised."""
    if not isinstance(text, str):
        raise _invalid("", "not text")
    address = text.strip()
    if not address or len(address) > ADDRESS_LENGTH_MAX or not address.isascii():
        raise _invalid(address, "wrong length or characters")
    network = _network()
    hrp = str(network["bech32"])
    if address.lower().startswith(hrp + "1"):
        version, program = bech32.decode(hrp, address.lower())
        if version is None or program is None:
            raise _invalid(address, "bad bech32 checksum or program")
        return ParsedAddress(address.lower(), f"witness_v{version}")
    if "1" in address.lower()[:5] and address.lower().split("1", 1)[0] in _all_hrps():
        raise _invalid(address, "address of another network")
    try:
        payload = base58.decode_check(address)
    except (ValueError, binascii.Error, IndexError):
        raise _invalid(address, "bad checksum") from None
    if len(payload) != 21:
        raise _invalid(address, "wrong payload length")
    prefix = payload[:1]
    if prefix == network["p2pkh"]:
        return ParsedAddress(address, "p2pkh")
    if prefix == network["p2sh"]:
        return ParsedAddress(address, "p2sh")
    raise _invalid(address, "address of another network")


def _all_hrps() -> set[str]:
    return {str(net["bech32"]) for net in NETWORKS.values()}


def bip21_uri(address: str, *, amount_sats: int | None = None, label: str = "",
              message: str = "") -> str:  # fmt: skip
    """Return a BIP21 link: ``bitcoin:<address>?amount=<btc>&label=...``."""
    query: list[tuple[str, str]] = []
    if amount_sats is not None:
        query.append(("amount", format_amount(amount_sats, "BTC").rstrip("0").rstrip(".")))
    if label:
        query.append(("label", label))
    if message:
        query.append(("message", message))
    encoded = urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    return f"bitcoin:{address}" + (f"?{encoded}" if encoded else "")
