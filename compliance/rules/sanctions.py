"""A withdrawal to an address on the sanctions list is blocked outright."""

from __future__ import annotations

from compliance.models import SanctionedAddress
from compliance.rules.base import BLOCK, Finding, Movement, rule


def address_is_sanctioned(address: str) -> bool:
    """Return whether ``address`` is on the active sanctions list."""
    address = (address or "").strip()
    if not address:
        return False
    # Bech32 addresses are case-insensitive; base58 ones are not.
    candidates = {address, address.lower()} if address.lower().startswith(("bc1", "tb1", "bcrt1")) else {address}
    return SanctionedAddress.objects.filter(address__in=candidates, active=True).exists()


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
        "sanctioned_address", BLOCK, "destination is on the sanctions list",
        {"address": movement.address},
    )
