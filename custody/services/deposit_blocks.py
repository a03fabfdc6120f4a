"""The deposit scan's block path: read new blocks from the node, keep the bank's outputs.

Why: every wallet RPC (``listsinceblock``, ``gettransaction``) first waits until the
node's wallet has taken the newest block in, and for a block paying thousands of wallet
addresses that is seconds of the wallet's own work (3.4 s for 5,000 outputs, measured in
bench/RESULTS.md). ``getblock`` is a chain RPC: it answers as soon as the block is
connected. So the scan first reads the blocks since its block cursor with
``getblock <hash> 2``, matches every output address against the bank's deposit
addresses in one array query, and records and credits those outputs before it asks the
wallet anything.

The wallet path (custody/services/deposits.py) stays the complete one: the mempool,
outputs to wallet addresses the bank has no row for, confirmations of outputs in older
blocks, reorgs (``removed``) and conflicts. Both paths produce the same ``Output`` for
the same txid:vout (the block's own ``confirmations``, its hash, the wallet's "receive"
rule of skipping coinbase outputs), and recording and crediting are idempotent (UNIQUE
txid+vout, transfer key ``deposit:<txid>:<vout>``), so an output seen by both is
recorded and credited once; the wallet path skips those the block path recorded in
the same scan at the same block and confirmations. Nothing here builds a Django
model: only the bank's outputs become ``Output`` objects, and their address rows
come back from the match as plain values for recording.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import connection

from core.pg_arrays import text_array
from custody.errors import NodeError
from custody.models import ChainCursor, DepositAddress
from custody.node import NodeClient, sats

logger = logging.getLogger("alatau.custody.deposits")

BLOCK_CURSOR_NAME = "deposit-blocks"
# Blocks read per scan at most; anything older is the wallet path's (it reads from its
# own cursor), so a long outage costs the fast path nothing but its speed.
BLOCKS_PER_SCAN_MAX = 20


@dataclass(frozen=True)
class Output:
    """One output paid to a wallet or bank address, as either path reports it."""

    txid: str
    vout: int
    address: str
    amount_sats: int
    confirmations: int
    block_hash: str


class BankAddress(NamedTuple):
    """A deposit address of the bank, as plain values (the scan builds no models)."""

    id: int
    purpose: str


@dataclass(frozen=True)
class BlockOutputs:
    """What ``block_outputs`` read: the bank's outputs, their addresses, the new cursor."""

    outputs: dict[tuple[str, int], Output]
    addresses: dict[str, BankAddress]
    last: str


def block_outputs(client: NodeClient, target: int) -> BlockOutputs:
    """Read the blocks since the block cursor; return the bank's outputs and the new cursor.

    ``client`` must be a chain client (no wallet): a wallet-scoped call would wait for
    the wallet again. ``target`` is how far back a first run (no cursor) starts.
    The caller stores the returned hash as the cursor once the outputs are recorded.
    Every output address of the blocks is matched in one query first; an ``Output``
    is built only for the bank's.
    """
    tip_height = int(client.call("getblockcount"))
    start = max(_start_height(client, tip_height, target), tip_height - BLOCKS_PER_SCAN_MAX + 1)
    read = BlockOutputs({}, {}, "")
    for height in range(max(start, 0), tip_height + 1):
        block = client.call("getblock", client.call("getblockhash", height), 2)
        if int(block["confirmations"]) < 1:
            break  # reorged away while we read: the next scan starts again from the fork
        read = _block_outputs(block, read)
    return read


def _block_outputs(block: dict[str, Any], read: BlockOutputs) -> BlockOutputs:
    """Add one block's outputs to the bank (one address query per block, bounded memory)."""
    ours = bank_addresses({address for _, _, address in _paid(block) if address})
    confirmations, block_hash = int(block["confirmations"]), str(block["hash"])
    for txid, out, address in _paid(block):
        if address in ours:
            key = (txid, int(out["n"]))
            read.outputs[key] = Output(
                txid=txid, vout=key[1], address=address, amount_sats=sats(out["value"]),
                confirmations=confirmations, block_hash=block_hash,
            )  # fmt: skip
    return BlockOutputs(read.outputs, read.addresses | ours, block_hash)


def _paid(block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(txid, output, address or "") of every output of the block but the coinbase's."""
    for tx in block["tx"]:
        if tx["vin"] and "coinbase" in tx["vin"][0]:
            continue  # the wallet reports coinbase outputs as generate/immature, not receive
        txid = str(tx["txid"])
        for out in tx["vout"]:
            yield txid, out, str(out["scriptPubKey"].get("address") or "")


def block_cursor_get() -> str:
    row = ChainCursor.objects.filter(name=BLOCK_CURSOR_NAME).values_list("block_hash").first()
    return str(row[0]) if row else ""


def block_cursor_set(block_hash: str) -> None:
    if block_hash:
        ChainCursor.objects.update_or_create(
            name=BLOCK_CURSOR_NAME, defaults={"block_hash": block_hash}
        )


def _start_height(client: NodeClient, tip_height: int, target: int) -> int:
    """The first height to read: after the cursor, or after where its branch left the chain."""
    cursor = block_cursor_get()
    if not cursor:
        return tip_height - target + 1
    for _ in range(BLOCKS_PER_SCAN_MAX):
        try:
            header = client.call("getblockheader", cursor)
        except NodeError as exc:
            if exc.rpc_code != -5:
                raise
            logger.warning("deposit block cursor %s unknown to the node", cursor)
            return tip_height - target + 1
        if int(header["confirmations"]) >= 1:  # on the active chain
            return int(header["height"]) + 1
        cursor = str(header.get("previousblockhash", ""))  # a reorg took it: walk back
        if not cursor:
            break
    return tip_height - target + 1


def bank_addresses(candidates: set[str]) -> dict[str, BankAddress]:
    """Which of ``candidates`` are the bank's deposit addresses: one array query."""
    if not candidates:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT address, id, purpose FROM {DepositAddress._meta.db_table}"  # noqa: S608 - model's table
            " WHERE address = ANY(%s::text[])",
            [text_array(candidates)],  # a literal: core/pg_arrays.py says why
        )
        return {str(row[0]): BankAddress(int(row[1]), str(row[2])) for row in cursor.fetchall()}
