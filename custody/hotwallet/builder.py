"""Building a hot-wallet spend: the builder lock, the unsent-spend guard, the build.

The builder lock is a PostgreSQL advisory lock on the hot wallet's row id, taken with
``pg_try_advisory_lock`` outside any transaction: it serialises builders (whose node
calls must not interleave: one would unlock the coins the other just locked) without
holding a row lock while the node works, and it dies with a crashed builder's connection.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection

from custody.errors import NodeError, TxRejected
from custody.hotwallet.kinds import hot_spends_registered
from custody.models import Wallet, WalletKind
from custody.node import NodeClient, sats

logger = logging.getLogger("alatau.custody.hotwallet")

# First key of the two-key advisory lock ("HOT"); the second is the hot wallet's row id.
BUILDER_LOCK_SPACE = 0x484F54


@dataclass(frozen=True)
class BuiltTx:
    """A funded, signed, final transaction that is not stored or sent yet."""

    raw_tx: str
    txid: str
    fee_sats: int
    vsize: int
    inputs: list[list[Any]]
    vouts: list[int]  # the index of each requested output, in the order given


def hot_wallet_row() -> Wallet:
    """Return the hot wallet's row (created on first use)."""
    name = str(settings.CUSTODY_HOT_WALLET)
    wallet, _ = Wallet.objects.get_or_create(name=name, defaults={"kind": WalletKind.HOT})
    return wallet


@contextlib.contextmanager
def hot_builder_lock() -> Iterator[Wallet | None]:
    """Hold the hot wallet's builder lock for the block; yield None when another holds it."""
    wallet = hot_wallet_row()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [BUILDER_LOCK_SPACE, wallet.pk])
        acquired = bool(cursor.fetchone()[0])
    if not acquired:
        yield None
        return
    try:
        yield wallet
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [BUILDER_LOCK_SPACE, wallet.pk])


def unsent_hot_spend_exists() -> bool:
    """Is a signed hot-wallet transaction committed but not yet accepted by the node?

    Its coins still look unspent to the node (and after a node restart they are not even
    locked), so building now could spend them twice. Ask it under the builder lock.
    """
    return any(kind.unsent().exists() for kind in hot_spends_registered())


def _unsent_inputs() -> set[tuple[str, int]]:
    return {
        (str(outpoint[0]), int(outpoint[1]))
        for kind in hot_spends_registered()
        for inputs in kind.unsent().values_list("inputs", flat=True)
        for outpoint in inputs
    }


def outpoints_unlock(client: NodeClient, inputs: list[list[Any]]) -> None:
    """Release outpoints a built but abandoned transaction had locked (best effort)."""
    outpoints = [{"txid": str(i[0]), "vout": int(i[1])} for i in inputs]
    if not outpoints:
        return
    try:
        client.call("lockunspent", True, outpoints)
    except NodeError:
        # One of them is already spent (the node refuses the whole call): go one by one.
        for outpoint in outpoints:
            with contextlib.suppress(NodeError):
                client.call("lockunspent", True, [outpoint])


def orphans_unlock(client: NodeClient) -> None:
    """Unlock outpoints locked by a builder that died before committing its spend."""
    locked = client.call("listlockunspent")
    if not locked:
        return
    owned = _unsent_inputs()
    orphans = [
        [o["txid"], o["vout"]] for o in locked if (str(o["txid"]), int(o["vout"])) not in owned
    ]
    if orphans:
        logger.warning("unlocking %d outpoints left by an unfinished build", len(orphans))
        outpoints_unlock(client, orphans)


def hot_tx_build(
    client: NodeClient, outputs: list[dict[str, str]], *, fee_rate: int, replaceable: bool,
    lock_unspents: bool, what: str,
) -> BuiltTx:  # fmt: skip
    """Fund, sign and finalise one transaction paying ``outputs`` (the wallet pays the fee)."""
    options = {"fee_rate": fee_rate, "lockUnspents": lock_unspents, "replaceable": replaceable}
    funded = client.call("walletcreatefundedpsbt", [], outputs, 0, options)
    processed = client.call("walletprocesspsbt", funded["psbt"], True, "ALL", True)
    final = client.call("finalizepsbt", processed["psbt"], True)
    if not final.get("complete"):
        raise TxRejected(f"The hot wallet could not sign the {what}")
    decoded = client.call("decoderawtransaction", final["hex"])
    change = int(funded.get("changepos", -1))
    return BuiltTx(
        raw_tx=str(final["hex"]), txid=str(decoded["txid"]), fee_sats=sats(funded["fee"]),
        vsize=int(decoded["vsize"]),
        vouts=[i for i in range(len(decoded["vout"])) if i != change],
        inputs=[[str(i["txid"]), int(i["vout"])] for i in decoded["vin"]],
    )  # fmt: skip
