"""The deposit scanner: read the hot wallet's receipts, record each output once, credit once.

One run (``deposit_scan``) first reads the blocks since its block cursor straight from
the node and records and credits what they pay the bank's addresses (the block path,
custody/services/deposit_blocks.py: it does not wait for the wallet to take a big block
in). Then it reads ``listsinceblock`` from the stored cursor (the wallet path). The cursor
lags the tip by the largest confirmation count any address needs, so every output that is
not yet final is read again on the next run (its confirmations move on), and a reorg deep
enough to undo a credit disconnects the cursor block itself, which makes the node report
the credited output under ``removed``.

A credited output is reversed only when it is really gone: reported ``removed`` and not
mined again or back in the mempool, or conflicted (negative confirmations: a double
spend won). One that the new chain mined again keeps its credit.

Runs are serialised by a PostgreSQL advisory lock; each step is idempotent (UNIQUE
txid+vout, transfer idempotency keys), so a crash anywhere just means the next run redoes
the unfinished part. The cursor moves only after everything in the window is done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from core.pg_arrays import int_array, text_array
from custody.errors import NodeError
from custody.models import (
    AddressPurpose,
    ChainCursor,
    Deposit,
    DepositAddress,
    DepositStatus,
)
from custody.node import NodeClient, hot_wallet, sats
from custody.services.deposit_blocks import (
    BankAddress,
    Output,
    bank_addresses,
    block_cursor_set,
    block_outputs,
)
from custody.services.deposit_credit import credit_due
from custody.services.evicted import evicted_rebroadcast
from custody.services.listeners import listeners_enqueue
from custody.services.reorg import deposit_lose
from custody.services.unconfirm import confirmations_follow

logger = logging.getLogger("alatau.custody.deposits")

CURSOR_NAME = "deposits"
SCAN_LOCK_KEY = 0x616C6174_6470  # "alat" "dp": one scanner at a time, cluster-wide
TARGET_CONFIRMATIONS_MAX = 1_000
BULK_SIZE = 1_000
RECHECK_MAX = 200


@dataclass
class ScanReport:
    """What one scan did (for logs, the command's output and tests)."""

    busy: bool = False
    seen: int = 0
    recorded: int = 0
    credited: int = 0
    suspense: int = 0
    reorged: int = 0
    held: int = 0
    released: int = 0
    cursor: str = ""
    # time.monotonic() when what the blocks showed was recorded and credited (bench).
    blocks_done_at: float = 0.0
    rebroadcast: dict[str, int] = field(default_factory=dict)
    changed_ids: set[int] = field(default_factory=set)
    reorged_ids: set[int] = field(default_factory=set)
    # txid:vout -> (confirmations, block hash) the block path wrote in this scan: the
    # wallet path skips an output it reports the same (its row already says so).
    block_recorded: dict[tuple[str, int], tuple[int, str]] = field(default_factory=dict)


@contextmanager
def _scan_lock() -> Iterator[bool]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [SCAN_LOCK_KEY])
        got = bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [SCAN_LOCK_KEY])


def _target_confirmations() -> int:
    """How far the cursor lags: the most confirmations any address waits for."""
    needed = DepositAddress.objects.aggregate(top=Max("required_confirmations"))["top"] or 0
    target = max(int(settings.DEPOSIT_CONFIRMATIONS), int(needed), 1)
    return min(target, TARGET_CONFIRMATIONS_MAX)


def _outputs(entries: list[dict[str, Any]]) -> dict[tuple[str, int], Output]:
    found: dict[tuple[str, int], Output] = {}
    for entry in entries:
        if entry.get("category") != "receive" or "address" not in entry:
            continue
        out = Output(
            txid=str(entry["txid"]),
            vout=int(entry["vout"]),
            address=str(entry["address"]),
            amount_sats=sats(entry["amount"]),
            confirmations=int(entry.get("confirmations", 0)),
            block_hash=str(entry.get("blockhash", "")),
        )
        found[(out.txid, out.vout)] = out
    return found


def _since_block(client: NodeClient, cursor: str, target: int) -> dict[str, Any]:
    try:
        reply: dict[str, Any] = client.call("listsinceblock", cursor, target, True, True)
    except NodeError as exc:
        if not cursor or exc.rpc_code != -5:
            raise
        # The node does not know the cursor block (a new or wiped node): read everything
        # again; recording is idempotent, so nothing is counted twice.
        logger.warning("deposit cursor %s unknown to the node; rescanning", cursor)
        reply = client.call("listsinceblock", "", target, True, True)
    return reply


def deposit_scan(*, client: NodeClient | None = None) -> ScanReport:
    """Scan the hot wallet once: record new outputs, track confirmations, credit, reorgs."""
    report = ScanReport()
    with _scan_lock() as got:
        if not got:
            report.busy = True
            return report
        hot = client or hot_wallet()
        target = _target_confirmations()
        _scan_blocks(replace(hot, wallet_name=None), target, report)
        cursor_row, _ = ChainCursor.objects.get_or_create(name=CURSOR_NAME)
        reply = _since_block(hot, cursor_row.block_hash, target)
        current = _outputs(reply.get("transactions", []))
        removed = _outputs(reply.get("removed", []))
        report.seen = len(current)
        _handle_removed(removed, current, report)
        _record(_not_block_recorded(current, report), report)
        _recheck_unseen(hot, current, target, report)
        credit_due(report)
        report.held, report.released = confirmations_follow()
        report.rebroadcast = evicted_rebroadcast(wallet=hot)
        _notify_reorged(report.reorged_ids)
        cursor_row.block_hash = str(reply["lastblock"])
        cursor_row.save(update_fields=["block_hash", "updated_at"])
        report.cursor = cursor_row.block_hash
    if report.recorded or report.credited or report.reorged:
        logger.info(
            "deposit scan: %d seen, %d recorded, %d credited, %d suspense, %d reorged",
            report.seen, report.recorded, report.credited, report.suspense, report.reorged,
        )  # fmt: skip
    return report


def _scan_blocks(chain: NodeClient, target: int, report: ScanReport) -> None:
    """The block path: record and credit what new blocks pay the bank, before the wallet.

    No wallet RPC here (custody/services/deposit_blocks.py says why); the wallet path
    that follows sees the same outputs, finds them recorded as it reports them and
    skips them (``_not_block_recorded``).
    """
    read = block_outputs(chain, target)
    if read.outputs:
        _record(read.outputs, report, read.addresses)
        report.block_recorded = {
            key: (out.confirmations, out.block_hash) for key, out in read.outputs.items()
        }
        credit_due(report)
    block_cursor_set(read.last)
    report.blocks_done_at = time.monotonic()


def _not_block_recorded(
    current: dict[tuple[str, int], Output], report: ScanReport
) -> dict[tuple[str, int], Output]:
    """The wallet's outputs minus those the block path recorded exactly so in this scan.

    Under the scan lock nothing else writes their confirmations or block hash, and
    ``_handle_removed`` drops what it reverses from ``block_recorded``, so ``_record``
    would find each skipped row as reported and change nothing.
    """
    if not report.block_recorded:
        return current
    seen = report.block_recorded
    return {
        key: out
        for key, out in current.items()
        if seen.get(key) != (out.confirmations, out.block_hash)
    }


def _handle_removed(
    removed: dict[tuple[str, int], Output],
    current: dict[tuple[str, int], Output],
    report: ScanReport,
) -> None:
    """Mark outputs a reorg took away; an output mined again (or back in the mempool) stays."""
    for key in removed:
        again = current.get(key)
        if again is not None and again.confirmations >= 0:
            continue  # the same output exists in the new chain or mempool: handled below
        report.block_recorded.pop(key, None)  # record it again, whatever becomes of it
        deposit = Deposit.objects.filter(txid=key[0], vout=key[1]).first()
        if deposit is not None and deposit_lose(deposit_id=deposit.pk, reason="removed by a reorg"):
            report.reorged += 1
            report.changed_ids.add(deposit.pk)
            report.reorged_ids.add(deposit.pk)


class _Known(NamedTuple):
    """A recorded deposit, as plain values (recording builds no models)."""

    pk: int
    status: str
    confirmations: int
    block_hash: str
    amount_sats: int
    purpose: str | None  # of its deposit address; None: recorded without one


def _record(
    current: dict[tuple[str, int], Output],
    report: ScanReport,
    addresses: dict[str, BankAddress] | None = None,
) -> None:
    """Insert new outputs (bulk) and bring known ones' confirmations up to date.

    ``addresses`` are the bank's rows for the outputs' addresses when the caller has
    them already (the block path); otherwise they are read in one query.
    """
    if not current:
        return
    if addresses is None:
        addresses = bank_addresses({out.address for out in current.values()})
    existing = _known(current)
    new = [out for key, out in current.items() if key not in existing]
    with transaction.atomic():
        report.recorded += _insert_new(new, addresses)
        changed = _refresh(existing, current, report)
        invoice_keys = {key for key, out in current.items()
                        if (addr := addresses.get(out.address)) is not None
                        and addr.purpose == AddressPurpose.INVOICE}  # fmt: skip
        touched = [key for key in invoice_keys if key not in existing or key in changed]
        if touched:  # the outbox rows commit with the change they report
            ids = _ids_for(touched)
            report.changed_ids.update(ids)
            _notify(ids)


def _known(current: dict[tuple[str, int], Output]) -> dict[tuple[str, int], _Known]:
    """The recorded rows among ``current``'s outputs, BULK_SIZE txids a query."""
    known: dict[tuple[str, int], _Known] = {}
    txids = sorted({key[0] for key in current})
    for start in range(0, len(txids), BULK_SIZE):
        rows = Deposit.objects.filter(txid__in=txids[start : start + BULK_SIZE]).values_list(
            "txid", "vout", "pk", "status", "confirmations", "block_hash", "amount_sats",
            "deposit_address__purpose",
        )  # fmt: skip
        for txid, vout, pk, status, confirmations, block_hash, amount_sats, purpose in rows:
            if (txid, vout) in current:  # another output of the same transaction: not ours here
                known[(txid, vout)] = _Known(
                    pk, status, confirmations, block_hash, amount_sats, purpose
                )
    return known


def _insert_new(new: list[Output], addresses: dict[str, BankAddress]) -> int:
    """Insert new outputs, BULK_SIZE a statement (arrays, not Django's row-by-row SQL).

    A row another scan inserted meanwhile is skipped (UNIQUE txid+vout); returns how
    many were inserted.
    """
    inserted = 0
    now = timezone.now()
    for start in range(0, len(new), BULK_SIZE):
        chunk = new[start : start + BULK_SIZE]
        rows = [addresses.get(out.address) for out in chunk]
        columns = [  # literals, not lists: core/pg_arrays.py says why
            text_array(o.txid for o in chunk), int_array(o.vout for o in chunk),
            text_array(o.address for o in chunk),
            int_array(None if a is None else a.id for a in rows),
            int_array(o.amount_sats for o in chunk),
            text_array(_initial_status(o.amount_sats, None if a is None else a.purpose)
                       for o, a in zip(chunk, rows, strict=True)),
            int_array(o.confirmations for o in chunk), text_array(o.block_hash for o in chunk),
        ]  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {Deposit._meta.db_table} (txid, vout, address,"  # noqa: S608 - the model's table
                " deposit_address_id, amount_sats, status, confirmations, block_hash,"
                " reversals, suspense_reason, unconfirmed, rebroadcast_result, seen_at,"
                " updated_at) SELECT u.*, 0, '', false, '', %s, %s FROM unnest(%s::text[],"
                " %s::integer[],"
                " %s::text[], %s::bigint[], %s::bigint[], %s::text[], %s::integer[], %s::text[])"
                " AS u ON CONFLICT (txid, vout) DO NOTHING",
                [now, now, *columns],
            )
            inserted += max(cursor.rowcount, 0)
    return inserted


def _initial_status(amount_sats: int, purpose: str | None) -> str:
    """The status a new (or re-mined) output starts in; ``purpose`` of its address, if any."""
    if purpose == AddressPurpose.INTERNAL:
        return DepositStatus.INTERNAL
    if amount_sats < int(settings.DEPOSIT_MIN_SATS):
        return DepositStatus.DUST
    return DepositStatus.PENDING


def _recheck_unseen(
    client: NodeClient, current: dict[tuple[str, int], Output], target: int, report: ScanReport
) -> None:
    """Ask the node about not-yet-final deposits that ``listsinceblock`` no longer lists.

    The wallet drops a transaction from ``listsinceblock`` once a double spend of it is
    mined (no block of ours was disconnected, so it is not in ``removed`` either). That
    matters for 0-confirmation invoice credits: they must still be reversed.
    """
    unseen = [
        d for d in Deposit.objects.filter(
            status__in=[DepositStatus.PENDING, DepositStatus.CREDITED, DepositStatus.SUSPENSE],
            confirmations__gte=0, confirmations__lt=target,
        ).order_by("pk")[:RECHECK_MAX]
        if (d.txid, d.vout) not in current
    ]  # fmt: skip
    for deposit in unseen:
        try:
            confirmations = int(client.call("gettransaction", deposit.txid, True)["confirmations"])
        except NodeError as exc:
            logger.warning("cannot re-check deposit %s: %s", deposit, exc)
            continue
        if confirmations >= 0:
            continue  # still fine; listsinceblock will report it again
        if deposit.status == DepositStatus.PENDING:
            Deposit.objects.filter(pk=deposit.pk).update(
                confirmations=confirmations, updated_at=timezone.now()
            )
        elif deposit_lose(deposit_id=deposit.pk, reason="double-spent (conflicted)"):
            report.reorged += 1
            report.changed_ids.add(deposit.pk)
            report.reorged_ids.add(deposit.pk)


def _refresh(
    existing: dict[tuple[str, int], _Known],
    current: dict[tuple[str, int], Output],
    report: ScanReport,
) -> set[tuple[str, int]]:
    """Update confirmations; lose credited outputs now conflicted; revive re-mined ones."""
    changed: set[tuple[str, int]] = set()
    updates: list[tuple[int, int, str, str]] = []  # (id, confirmations, block hash, status)
    for key, deposit in existing.items():
        out = current[key]
        revived = deposit.status == DepositStatus.REORGED and out.confirmations >= 0
        if out.confirmations < 0 and deposit.status in (
            DepositStatus.CREDITED, DepositStatus.SUSPENSE,
        ):  # fmt: skip
            if deposit_lose(deposit_id=deposit.pk, reason="double-spent (conflicted)"):
                report.reorged += 1
                report.reorged_ids.add(deposit.pk)
                changed.add(key)
            continue
        same = deposit.confirmations == out.confirmations and deposit.block_hash == out.block_hash
        if same and not revived:
            continue
        # Mined again (or back in the mempool): credit again when final.
        status = (
            _initial_status(deposit.amount_sats, deposit.purpose) if revived else deposit.status
        )
        updates.append((deposit.pk, out.confirmations, out.block_hash, status))
        changed.add(key)
    _save_refreshed(updates)
    return changed


def _save_refreshed(updates: list[tuple[int, int, str, str]]) -> None:
    """One UPDATE from arrays per BULK_SIZE rows (bulk_update is a CASE per row and field)."""
    now = timezone.now()
    for start in range(0, len(updates), BULK_SIZE):
        chunk = updates[start : start + BULK_SIZE]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Deposit._meta.db_table} d"  # noqa: S608 - the model's own table name
                " SET confirmations = u.confirmations, block_hash = u.block_hash,"
                " status = u.status, updated_at = %s"
                " FROM unnest(%s::bigint[], %s::integer[], %s::text[], %s::text[])"
                " AS u(id, confirmations, block_hash, status) WHERE d.id = u.id",
                [now, *(write(column) for write, column in zip(
                    (int_array, int_array, text_array, text_array), zip(*chunk, strict=True),
                    strict=True))],
            )  # fmt: skip


def _ids_for(keys: list[tuple[str, int]]) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(keys), BULK_SIZE):
        chunk = keys[start : start + BULK_SIZE]
        txids = {txid for txid, _ in chunk}
        wanted = set(chunk)
        ids += [
            pk for pk, txid, vout in Deposit.objects.filter(txid__in=txids)
            .values_list("pk", "txid", "vout") if (txid, vout) in wanted
        ]  # fmt: skip
    return ids


def _notify_reorged(deposit_ids: set[int]) -> None:
    """Tell the listeners about invoice deposits a reorg or a double spend took back."""
    invoice_ids = list(
        Deposit.objects.filter(
            pk__in=deposit_ids, deposit_address__purpose=AddressPurpose.INVOICE
        ).values_list("pk", flat=True)
    )
    _notify(invoice_ids)


def _notify(deposit_ids: list[int]) -> None:
    """Owe each ``CUSTODY_DEPOSIT_LISTENERS`` callable a call per deposit (custody's outbox).

    Written in the caller's transaction, run after commit and retried by the periodic
    task until it succeeds (custody/services/listeners.py).
    """
    listeners_enqueue(deposit_ids)
