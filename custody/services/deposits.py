"""The deposit scanner: read the hot wallet's receipts, record each output once, credit once.

One run (``deposit_scan``) reads ``listsinceblock`` from the stored cursor. The cursor
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.errors import AccountClosed, AccountFrozen
from accounts.models import Account, AccountKind, AccountStatus, Transfer
from accounts.services import system_account
from accounts.services.transfer_batch import TransferSpec, transfer_batch_create
from bank.errors import InvariantViolation
from compliance.services import case_open
from custody.errors import NodeError
from custody.models import (
    AddressPurpose,
    ChainCursor,
    Deposit,
    DepositAddress,
    DepositStatus,
)
from custody.node import NodeClient, hot_wallet, node_client, sats
from custody.services.reorg import deposit_lose

logger = logging.getLogger("alatau.custody.deposits")

CURSOR_NAME = "deposits"
SCAN_LOCK_KEY = 0x616C6174_6470  # "alat" "dp": one scanner at a time, cluster-wide
TARGET_CONFIRMATIONS_MAX = 1_000
BULK_SIZE = 1_000
RECHECK_MAX = 200
CREDIT_RETRIES_MAX = 5


@dataclass
class ScanReport:
    """What one scan did (for logs, the command's output and tests)."""

    busy: bool = False
    seen: int = 0
    recorded: int = 0
    credited: int = 0
    suspense: int = 0
    reorged: int = 0
    cursor: str = ""
    changed_ids: set[int] = field(default_factory=set)
    reorged_ids: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Output:
    txid: str
    vout: int
    address: str
    amount_sats: int
    confirmations: int
    block_hash: str


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
        cursor_row, _ = ChainCursor.objects.get_or_create(name=CURSOR_NAME)
        target = _target_confirmations()
        reply = _since_block(hot, cursor_row.block_hash, target)
        current = _outputs(reply.get("transactions", []))
        removed = _outputs(reply.get("removed", []))
        report.seen = len(current)
        _handle_removed(removed, current, report)
        _record(current, report)
        _recheck_unseen(hot, current, target, report)
        _credit_due(report)
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
        deposit = Deposit.objects.filter(txid=key[0], vout=key[1]).first()
        if deposit is not None and deposit_lose(deposit_id=deposit.pk, reason="removed by a reorg"):
            report.reorged += 1
            report.changed_ids.add(deposit.pk)
            report.reorged_ids.add(deposit.pk)


def _record(current: dict[tuple[str, int], Output], report: ScanReport) -> None:
    """Insert new outputs (bulk) and bring known ones' confirmations up to date."""
    if not current:
        return
    addresses = {
        row.address: row
        for row in DepositAddress.objects.filter(address__in={o.address for o in current.values()})
    }
    existing: dict[tuple[str, int], Deposit] = {}
    txids = sorted({key[0] for key in current})
    for start in range(0, len(txids), BULK_SIZE):
        chunk = txids[start : start + BULK_SIZE]
        for deposit in Deposit.objects.filter(txid__in=chunk).select_related("deposit_address"):
            existing[(deposit.txid, deposit.vout)] = deposit
    new = [_new_deposit(out, addresses.get(out.address)) for key, out in current.items()
           if key not in existing]  # fmt: skip
    with transaction.atomic():
        report.recorded = _insert_new(new)
        changed = _refresh(existing, current, report)
        invoice_keys = {key for key, out in current.items()
                        if (addr := addresses.get(out.address)) is not None
                        and addr.purpose == AddressPurpose.INVOICE}  # fmt: skip
        touched = [key for key in invoice_keys if key not in existing or key in changed]
    if touched:
        ids = _ids_for(touched)
        report.changed_ids.update(ids)
        _notify(ids)


def _insert_new(new: list[Deposit]) -> int:
    """Insert new outputs, BULK_SIZE a statement (arrays, not Django's row-by-row SQL).

    A row another scan inserted meanwhile is skipped (UNIQUE txid+vout); returns how
    many were inserted.
    """
    inserted = 0
    now = timezone.now()
    table = Deposit._meta.db_table
    for start in range(0, len(new), BULK_SIZE):
        chunk = new[start : start + BULK_SIZE]
        columns: list[list[Any]] = [
            [d.txid for d in chunk], [d.vout for d in chunk], [d.address for d in chunk],
            [d.deposit_address_id for d in chunk], [d.amount_sats for d in chunk],
            [str(d.status) for d in chunk], [d.confirmations for d in chunk],
            [d.block_hash for d in chunk],
        ]  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (txid, vout, address, deposit_address_id, amount_sats,"  # noqa: S608 - the model's table
                " status, confirmations, block_hash, reversals, seen_at, updated_at)"
                " SELECT u.*, 0, %s, %s FROM unnest(%s::text[], %s::integer[], %s::text[],"
                " %s::bigint[], %s::bigint[], %s::text[], %s::integer[], %s::text[]) AS u"
                " ON CONFLICT (txid, vout) DO NOTHING",
                [now, now, *columns],
            )
            inserted += max(cursor.rowcount, 0)
    return inserted


def _initial_status(amount_sats: int, address: DepositAddress | None) -> str:
    if address is not None and address.purpose == AddressPurpose.INTERNAL:
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


def _new_deposit(out: Output, address: DepositAddress | None) -> Deposit:
    status = _initial_status(out.amount_sats, address)
    return Deposit(
        txid=out.txid, vout=out.vout, address=out.address, deposit_address=address,
        amount_sats=out.amount_sats, confirmations=out.confirmations,
        block_hash=out.block_hash, status=status,
    )  # fmt: skip


def _refresh(
    existing: dict[tuple[str, int], Deposit],
    current: dict[tuple[str, int], Output],
    report: ScanReport,
) -> set[tuple[str, int]]:
    """Update confirmations; lose credited outputs now conflicted; revive re-mined ones."""
    changed: set[tuple[str, int]] = set()
    updates: list[Deposit] = []
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
        deposit.confirmations = out.confirmations
        deposit.block_hash = out.block_hash
        deposit.updated_at = timezone.now()  # bulk_update does not apply auto_now
        if revived:  # mined again (or back in the mempool): credit again when final
            deposit.status = _initial_status(deposit.amount_sats, deposit.deposit_address)
        updates.append(deposit)
        changed.add(key)
    Deposit.objects.bulk_update(
        updates, ["confirmations", "block_hash", "status", "updated_at"], batch_size=BULK_SIZE
    )
    return changed


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
    """Call each ``CUSTODY_DEPOSIT_LISTENERS`` callable with each deposit, after commit."""
    paths = list(getattr(settings, "CUSTODY_DEPOSIT_LISTENERS", []) or [])
    if not paths or not deposit_ids:
        return

    def run() -> None:
        listeners = [import_string(path) for path in paths]
        for deposit in Deposit.objects.filter(pk__in=deposit_ids).select_related("deposit_address"):
            for listener in listeners:
                try:
                    listener(deposit)
                except Exception:
                    logger.exception("deposit listener %r failed for %s", listener, deposit.pk)

    transaction.on_commit(run)


def _credit_due(report: ScanReport) -> None:
    """Credit every pending deposit that has enough confirmations, in bounded batches."""
    batch_size = max(1, int(settings.DEPOSIT_SCAN_CREDIT_BATCH))
    default_needed = int(settings.DEPOSIT_CONFIRMATIONS)
    after_id = 0
    while True:
        # Plain values to pick the due ones: the rows themselves are read once, locked.
        pending = list(
            Deposit.objects.filter(
                status=DepositStatus.PENDING, confirmations__gte=0, pk__gt=after_id
            )
            .order_by("pk")
            .values_list("pk", "txid", "block_hash", "confirmations",
                         "deposit_address__required_confirmations")[:batch_size]
        )  # fmt: skip
        if not pending:
            return
        after_id = pending[-1][0]
        due = [
            (pk, txid, block_hash) for pk, txid, block_hash, confirmations, needed in pending
            if confirmations >= (default_needed if needed is None else needed)
        ]  # fmt: skip
        if due:
            blocks = {txid: block_hash for _, txid, block_hash in due}
            _credit_batch([pk for pk, _, _ in due], report, sanctioned_sources(blocks))


def sanctioned_sources(
    blocks: dict[str, str], *, client: NodeClient | None = None
) -> dict[str, list[str]]:
    """Return, per txid, the sanctioned addresses among the inputs of the transactions.

    ``blocks`` maps each txid to the hash of the block that holds it ("" if none).

    Asks the node only when the sanctions list has entries, one
    ``getrawtransaction <txid> 2 <blockhash>`` per transaction (verbosity 2 carries
    each input's prevout address; the block hash spares the need for a txindex).
    """
    from compliance.models import SanctionedAddress
    from compliance.rules.sanctions import sanctioned_among

    if not SanctionedAddress.objects.filter(active=True).exists():
        return {}
    client = client or node_client()
    hits: dict[str, list[str]] = {}
    for txid, block_hash in blocks.items():
        params: tuple[Any, ...] = (txid, 2, block_hash) if block_hash else (txid, 2)
        tx = client.call("getrawtransaction", *params)
        inputs = [
            str(vin["prevout"]["scriptPubKey"]["address"])
            for vin in tx.get("vin", [])
            if vin.get("prevout", {}).get("scriptPubKey", {}).get("address")
        ]
        listed = sanctioned_among(inputs)
        if listed:
            hits[txid] = listed
    return hits


def _credit_batch(due: list[int], report: ScanReport, sanctioned: dict[str, list[str]]) -> None:
    """Credit locked pending deposits with one ledger batch call, then record the outcome.

    Money from a sanctioned source, to an unknown address or to an account that is
    not active is held in suspense with a case: received, booked, never lost.
    """
    hot = system_account(AccountKind.CUSTODY_HOT, "BTC")
    suspense = system_account(AccountKind.SUSPENSE, "BTC")
    with transaction.atomic():
        deposits = list(
            Deposit.objects.select_for_update(of=("self",))
            .filter(pk__in=due, status=DepositStatus.PENDING)
            .select_related("deposit_address", "deposit_address__account")
            .order_by("pk")
        )
        why = {d.pk: _suspense_reason(d, sanctioned.get(d.txid, [])) for d in deposits}
        transfers = _post_credits(deposits, why, hot.pk, suspense.pk)
        now = timezone.now()
        invoice_ids: list[int] = []
        for deposit, transfer in zip(deposits, transfers, strict=True):
            to_suspense = transfer.credit_account_id == suspense.pk
            deposit.transfer = transfer
            deposit.status = DepositStatus.SUSPENSE if to_suspense else DepositStatus.CREDITED
            deposit.credited_at = deposit.updated_at = now
            report.changed_ids.add(deposit.pk)
            if to_suspense:
                report.suspense += 1
                _suspense_case(deposit, why[deposit.pk], sanctioned.get(deposit.txid, []))
            else:
                report.credited += 1
            address = deposit.deposit_address
            if address is not None and address.purpose == AddressPurpose.INVOICE:
                invoice_ids.append(deposit.pk)
        _save_credited(deposits, now)
        _notify(invoice_ids)


def _suspense_reason(deposit: Deposit, sanctioned: list[str]) -> str:
    """Why the deposit goes to suspense, or "" when it may be credited to its account."""
    address = deposit.deposit_address
    account = address.account if address is not None else None
    if sanctioned:
        return f"sanctioned source {', '.join(sanctioned)}"
    if account is None:
        return "unknown address"
    if account.status != AccountStatus.ACTIVE:
        return f"account {account.status}"
    return ""


def _post_credits(
    deposits: list[Deposit], why: dict[int, str], hot_id: int, suspense_id: int
) -> list[Transfer]:
    """Post every credit in one batch; an account frozen or closed meanwhile goes to suspense."""
    for _ in range(CREDIT_RETRIES_MAX):
        specs = [
            _deposit_spec(d, hot_id, suspense_id if why[d.pk] else _account_id(d)) for d in deposits
        ]
        try:
            return transfer_batch_create(transfers=specs)
        except (AccountFrozen, AccountClosed):
            # Nothing was written: read the statuses again (the batch locked and then
            # released them) and send the accounts no longer active to suspense.
            ids = {_account_id(d) for d in deposits if not why[d.pk]}
            status = dict(Account.objects.filter(pk__in=ids).values_list("pk", "status"))
            for d in deposits:
                if not why[d.pk] and status.get(_account_id(d)) != AccountStatus.ACTIVE:
                    why[d.pk] = f"account {status.get(_account_id(d), 'missing')}"
    raise InvariantViolation("deposit credits kept failing on account status")


def _account_id(deposit: Deposit) -> int:
    address = deposit.deposit_address
    if address is None or address.account_id is None:
        raise InvariantViolation(f"deposit {deposit.pk} has no account to credit")
    return int(address.account_id)


def _save_credited(deposits: list[Deposit], now: Any) -> None:
    """One UPDATE for the batch (Django's bulk_update is a CASE per row and field)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Deposit._meta.db_table} d"  # noqa: S608 - the model's own table name
            " SET transfer_id = u.transfer_id, status = u.status,"
            " credited_at = %s, updated_at = %s"
            " FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS u(id, transfer_id, status)"
            " WHERE d.id = u.id",
            [now, now, [d.pk for d in deposits], [d.transfer_id for d in deposits],
             [str(d.status) for d in deposits]],
        )  # fmt: skip


def _suspense_case(deposit: Deposit, why: str, sanctioned: list[str]) -> None:
    address = deposit.deposit_address
    account = address.account if address is not None else None
    rule = "sanctioned_source" if sanctioned else "deposit_suspense"
    case_open(
        kind="sanctions" if sanctioned else "deposit_suspense", subject=deposit,
        summary=f"Deposit {deposit.txid}:{deposit.vout} held in suspense ({why})",
        findings=[{"rule": rule, "detail": why, "address": deposit.address,
                   "sources": sanctioned}],
        customer=account.owner if account is not None else None,
        amount_minor=deposit.amount_sats, currency="BTC",
    )  # fmt: skip


def _deposit_spec(deposit: Deposit, hot_id: int, credit_id: int) -> TransferSpec:
    # A re-credit after a reversal (the output was mined again) needs a fresh key.
    suffix = f":r{deposit.reversals}" if deposit.reversals else ""
    return TransferSpec(
        debit_account_id=hot_id,
        credit_account_id=credit_id,
        amount_minor=deposit.amount_sats,
        code="deposit",
        idempotency_key=f"deposit:{deposit.txid}:{deposit.vout}{suffix}",
        memo=f"deposit {deposit.txid}:{deposit.vout}",
        source=deposit,
    )
