"""Crediting recorded deposits: one ledger batch call per batch of due deposits.

Split from ``custody.services.deposits`` (the scanner): the scanner records what the
node reports and calls ``credit_due``; this module posts the credits (or suspense
with a case) and tells the listeners.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.errors import AccountClosed, AccountFrozen
from accounts.models import Account, AccountKind, AccountStatus, Transfer
from accounts.services import system_account
from accounts.services.transfer_batch import TransferSpec, transfer_batch_create
from bank.errors import InvariantViolation
from compliance.services import case_open
from custody.models import AddressPurpose, Deposit, DepositStatus
from custody.node import NodeClient, node_client

logger = logging.getLogger("alatau.custody.deposits")

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


def notify_listeners(deposit_ids: list[int]) -> None:
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


def credit_due(report: ScanReport) -> None:
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
        notify_listeners(invoice_ids)


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
    """Post every credit in one batch; an account closed meanwhile goes to suspense.

    (The ledger refuses a credit only to a closed account; one frozen after the read
    is credited and stays frozen, as with single transfers.)
    """
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
