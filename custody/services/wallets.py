"""Wallets on the node: create or load them (idempotent) and record them."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from audit.chain import audit_record
from custody.errors import NodeError, WalletNotFound
from custody.models import Wallet, WalletKind
from custody.node import NodeClient, node_client

logger = logging.getLogger("alatau.custody")

_ALREADY_LOADED = -35


def wallet_load_or_create(
    *, client: NodeClient, name: str, watch_only: bool = False, blank: bool = False
) -> bool:
    """Make descriptor wallet ``name`` loaded on the node; return True if it was created.

    Loaded wallets are marked ``load_on_startup`` so a restarted node brings them back.
    """
    if name in client.call("listwallets"):
        return False
    try:
        client.call("loadwallet", name, True)
        return False
    except NodeError as exc:
        if exc.rpc_code == _ALREADY_LOADED:
            return False
        if not isinstance(exc, WalletNotFound):
            raise
    # createwallet name disable_private_keys blank passphrase avoid_reuse descriptors
    # load_on_startup
    client.call("createwallet", name, watch_only, blank, "", False, True, True)
    logger.info("created wallet %s", name)
    return True


def wallets_setup() -> list[Wallet]:
    """Create or load the hot wallet on the node and record it (safe to run again)."""
    name = str(settings.CUSTODY_HOT_WALLET)
    created = wallet_load_or_create(client=node_client(), name=name)
    with transaction.atomic():
        wallet, new_row = Wallet.objects.get_or_create(name=name, defaults={"kind": WalletKind.HOT})
        if new_row or created:
            audit_record(
                actor=None, action="wallet.setup", obj=wallet,
                data={"name": name, "kind": wallet.kind, "created_on_node": created},
            )  # fmt: skip
    return list(Wallet.objects.all())
