"""A withdrawal to an address on the sanctions list is blocked outright."""

from __future__ import annotations

from collections.abc import Iterable

from compliance.models import SanctionedAddress
from compliance.rules.base import BLOCK, Finding, Movement, rule


def _spellings(address: str) -> set[str]:
    address = (address or "").strip()
    if not address:
        return set()
    # Bech32 addresses are case-insensitive (stored lower-case); base58 ones are not.
    if address.lower().startswith(("bc1", "tb1", "bcrt1")):
        return {address, address.lower()}
    return {address}


def address_is_sanctioned(address: str) -> bool:
    """Return whether ``address`` is on the active sanctions list."""
    candidates = _spellings(address)
    if not candidates:
        return False
    return SanctionedAddress.objects.filter(address__in=candidates, active=True).exists()


def sanctioned_among(addresses: Iterable[str]) -> list[str]:
    """Return which of ``addresses`` (e.g. a deposit's input addresses) are sanctioned.

    One query for the lot; at most 1,000 addresses per call.
    """
    wanted = {a: _spellings(a) for a in list(addresses)[:1000]}
    listed = set(
        SanctionedAddress.objects.filter(
            address__in={s for spellings in wanted.values() for s in spellings}, active=True
        ).values_list("address", flat=True)
    )
    return [a for a, spellings in wanted.items() if spellings & listed]


@rule(
    "sanctioned_address",
    description="Destination address is on the sanctions list: block",
    defaults={},
    kinds=("withdrawal",),
)
def sanctioned_address(movement: Movement, params: dict[str, int]) -> Finding | None:
    if not address_is_sanctioned(movement.address):
        return None
    return Finding(
        "sanctioned_address",
        BLOCK,
        "destination is on the sanctions list",
        {"address": movement.address},
    )
