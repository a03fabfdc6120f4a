"""Proof of reserves: a Merkle sum tree over customer BTC balances, and the bank's coins.

A snapshot stores every leaf (account, salt, balance) so each customer can later
download an inclusion proof; the root hash and total are what the bank publishes.

The assets are the coins the deposit policy counts as confirmed: outputs of deposits
not yet credited, or credited but below their required confirmations (held until the
chain decides, custody/services/unconfirm.py), are left out.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models import Q

from accounts.actor import Actor
from accounts.models import OWNED_KINDS, Account
from audit.chain import audit_record
from core.errors import NotFound
from custody.errors import WalletNotFound
from custody.models import Deposit, DepositStatus
from custody.node import NodeClient, hot_wallet, node_client, sats
from treasury import merkle
from treasury.models import ReserveLeaf, ReserveSnapshot
from treasury.services.common import cold_wallet, cold_wallet_name
from treasury.services.descriptors import cold_addresses_unapproved

SALT_BYTES = 16
LEAVES_BULK = 2_000


def _unconfirmed_outpoints() -> set[tuple[str, int]]:
    rows = Deposit.objects.filter(
        Q(status=DepositStatus.PENDING, confirmations__gte=0) | Q(unconfirmed=True)
    ).values_list("txid", "vout")
    return {(str(txid), int(vout)) for txid, vout in rows}


def _assets(
    client: NodeClient, name: str, unconfirmed: set[tuple[str, int]]
) -> list[dict[str, Any]]:
    try:
        unspent = client.call("listunspent", 0)
    except WalletNotFound:
        return []
    by_address: dict[str, int] = defaultdict(int)
    for utxo in unspent:
        if (str(utxo["txid"]), int(utxo["vout"])) in unconfirmed:
            continue  # not confirmed by the deposit policy: not (yet) an asset
        by_address[str(utxo["address"])] += sats(utxo["amount"])
    return [{"wallet": name, "address": address, "amount_sats": amount}
            for address, amount in sorted(by_address.items())]  # fmt: skip


def reserves_snapshot(*, actor: Actor = None) -> ReserveSnapshot:
    """Take a snapshot: the liabilities tree over customer balances and the node's coins."""
    hot = hot_wallet()
    unconfirmed = _unconfirmed_outpoints()
    cold = _assets(cold_wallet(), cold_wallet_name(), unconfirmed)
    # Coins on a cold descriptor nobody approved are not counted as the bank's reserves.
    unpinned = cold_addresses_unapproved([a["address"] for a in cold])
    assets = _assets(hot, str(hot.wallet_name), unconfirmed) + [
        a for a in cold if a["address"] not in unpinned
    ]
    chain = node_client().call("getblockchaininfo")
    with transaction.atomic():
        # One SELECT reads every balance at the same instant.
        rows = list(
            Account.objects.filter(currency="BTC", kind__in=OWNED_KINDS)
            .order_by("pk").values_list("pk", "number", "posted_minor")
        )  # fmt: skip
        salts = [secrets.token_hex(SALT_BYTES) for _ in rows]
        leaves = [
            merkle.Node(merkle.leaf_hash(salt_hex=salt, account=number, balance_sats=balance),
                        balance)
            for salt, (_, number, balance) in zip(salts, rows, strict=True)
        ]  # fmt: skip
        root = merkle.levels(leaves)[-1][0]
        snapshot = ReserveSnapshot.objects.create(
            root_hash=root.hash.hex(), total_sats=root.sum, leaf_count=len(rows), assets=assets,
            assets_total_sats=sum(a["amount_sats"] for a in assets),
            block_height=int(chain["blocks"]), block_hash=str(chain["bestblockhash"]),
        )  # fmt: skip
        ReserveLeaf.objects.bulk_create(
            [ReserveLeaf(snapshot=snapshot, account_id=pk, position=i, salt=salt,
                         balance_sats=balance)
             for i, (salt, (pk, _, balance)) in enumerate(zip(salts, rows, strict=True))],
            batch_size=LEAVES_BULK,
        )  # fmt: skip
        audit_record(actor=actor, action="reserves.snapshot", obj=snapshot,
                     data={"root_hash": snapshot.root_hash, "total_sats": snapshot.total_sats,
                           "assets_total_sats": snapshot.assets_total_sats})  # fmt: skip
    return snapshot


def reserve_proof(*, snapshot: ReserveSnapshot, account: Account) -> dict[str, Any]:
    """Return the inclusion proof of ``account`` in ``snapshot`` (JSON-ready)."""
    mine = ReserveLeaf.objects.filter(snapshot=snapshot, account=account).first()
    if mine is None:
        raise NotFound("This account is not in the latest snapshot")
    leaves = []
    for salt, number, balance in (
        ReserveLeaf.objects.filter(snapshot=snapshot).order_by("position")
        .values_list("salt", "account__number", "balance_sats").iterator(chunk_size=LEAVES_BULK)
    ):  # fmt: skip
        leaves.append(merkle.Node(merkle.leaf_hash(salt_hex=salt, account=number,
                                                   balance_sats=balance), balance))  # fmt: skip
    tree = merkle.levels(leaves)
    root = tree[-1][0]
    return {
        "version": 1,
        "format": "alatau-merkle-sum-sha256",
        "snapshot": {"id": snapshot.pk, "created_at": snapshot.created_at.isoformat(),
                     "block_height": snapshot.block_height, "block_hash": snapshot.block_hash},
        "leaf": {"account": account.number, "salt": mine.salt,
                 "balance_sats": mine.balance_sats, "position": mine.position,
                 "hash": leaves[mine.position].hash.hex()},
        "path": merkle.proof_path(tree, mine.position),
        "root": {"hash": root.hash.hex(), "sum": root.sum},
        "total_sats": snapshot.total_sats,
    }  # fmt: skip
