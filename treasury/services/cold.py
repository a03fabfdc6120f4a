"""The cold wallet: a blank watch-only wallet on the node fed with public descriptors.

The server never holds a cold private key. For development and tests only,
``cold_signer_create`` makes a separate wallet with keys that stands in for the offline
signing device and hands out its public descriptors.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.db import transaction

from audit.chain import audit_record
from custody.errors import NodeError
from custody.models import Wallet, WalletKind
from custody.node import node_client
from custody.services import wallet_load_or_create
from treasury.errors import DescriptorInvalid
from treasury.services.common import cold_wallet, cold_wallet_name

logger = logging.getLogger("alatau.treasury.cold")

_FINGERPRINT = re.compile(r"\[([0-9a-fA-F]{8})/")
_BRANCH = re.compile(r"/([01])/\*\)")
# Extended private keys (xprv/tprv) or WIF keys must never reach the server.
_PRIVATE_HINT = re.compile(r"\b[xtyzuv]prv[1-9A-HJ-NP-Za-km-z]{20,}")
MAINNET_NAMES = ("main", "mainnet", "bitcoin")


def cold_wallet_setup() -> Wallet:
    """Create or load the blank watch-only cold wallet on the node and record it."""
    name = cold_wallet_name()
    created = wallet_load_or_create(client=node_client(), name=name, watch_only=True, blank=True)
    info = cold_wallet().call("getwalletinfo")
    if info.get("private_keys_enabled"):
        raise DescriptorInvalid(f"Wallet {name} holds private keys: it cannot be the cold wallet")
    with transaction.atomic():
        wallet, new_row = Wallet.objects.get_or_create(
            name=name, defaults={"kind": WalletKind.COLD}
        )
        if new_row or created:
            audit_record(actor=None, action="wallet.setup", obj=wallet,
                         data={"name": name, "kind": wallet.kind, "created_on_node": created})  # fmt: skip
    return wallet


def checked_descriptor(descriptor: str) -> dict[str, Any]:
    """Return a public, ranged descriptor as the node normalises it, with its key origin."""
    text = descriptor.strip()
    if not text or _PRIVATE_HINT.search(text):
        raise DescriptorInvalid("Enter public descriptors only (xpub/tpub), never private keys")
    try:
        info = node_client().call("getdescriptorinfo", text)
    except NodeError as exc:
        raise DescriptorInvalid(f"The node rejects this descriptor: {exc.message}") from exc
    if info.get("hasprivatekeys"):
        raise DescriptorInvalid("This descriptor holds private keys: enter the public one")
    if not info.get("isrange"):
        raise DescriptorInvalid("The descriptor must be ranged (end with /*)")
    fingerprint = _FINGERPRINT.search(text)
    branch = _BRANCH.search(text)
    if fingerprint is None or branch is None:
        raise DescriptorInvalid(
            "Give the key origin and branch: wpkh([fingerprint/84h/1h/0h]tpub.../0/*)"
        )
    return {"descriptor": str(info["descriptor"]), "checksum": str(info["checksum"]),
            "fingerprint": fingerprint.group(1).lower(), "internal": branch.group(1) == "1"}  # fmt: skip


def cold_signer_create(*, name: str | None = None) -> list[str]:
    """DEVELOPMENT ONLY: create the stand-in offline signer; return its public descriptors.

    The signer wallet holds private keys on this node, which is exactly what a real cold
    wallet must never do: refused on mainnet, and named apart from the bank's wallets.
    """
    network = str(settings.BITCOIN_NETWORK).lower()
    if network in MAINNET_NAMES:
        raise DescriptorInvalid("The stand-in cold signer is for regtest/testnet only")
    wallet_name = name or str(settings.TREASURY_SIGNER_WALLET)
    if not wallet_name.startswith(str(settings.TREASURY_SIGNER_PREFIX)):
        raise DescriptorInvalid(f"Signer wallet names start with {settings.TREASURY_SIGNER_PREFIX}")
    logger.warning(
        "DEVELOPMENT ONLY: wallet %s holds COLD PRIVATE KEYS on the server's node; "
        "a real deployment signs on an offline device", wallet_name,
    )  # fmt: skip
    wallet_load_or_create(client=node_client(), name=wallet_name)
    reply = node_client().wallet(wallet_name).call("listdescriptors")
    wanted = [d for d in reply["descriptors"] if str(d["desc"]).startswith("wpkh(")]
    return [str(d["desc"]) for d in sorted(wanted, key=lambda d: bool(d.get("internal")))]


def cold_signer_sign(*, psbt: str, name: str | None = None) -> str:
    """DEVELOPMENT ONLY: sign a PSBT in the stand-in signer wallet (the offline step)."""
    if str(settings.BITCOIN_NETWORK).lower() in MAINNET_NAMES:
        raise DescriptorInvalid("The stand-in cold signer is for regtest/testnet only")
    wallet_name = name or str(settings.TREASURY_SIGNER_WALLET)
    reply = node_client().wallet(wallet_name).call("walletprocesspsbt", psbt, True, "ALL", True)
    return str(reply["psbt"])
