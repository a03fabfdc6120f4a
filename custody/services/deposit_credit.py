"""Crediting recorded deposits: one ledger batch call per batch of due deposits.

Split from ``custody.services.deposits`` (the scanner): the scanner records what the
node reports and calls ``credit_due``; this module posts the credits (or suspense with
its reason and a case), holds what is credited below its confirmations and owes the
listeners their calls (custody's outbox), all in the batch's one transaction.

Locks, in order: the batch's deposit rows (``FOR UPDATE``), then every account of the
batch in one ordered statement and, last, the audit chain head, both inside
``ledger_transfer_batch`` (accounts/ledger_batch_sql.py). What follows in the same
transaction (suspense cases, confirmation holds) touches only accounts the batch
already holds and the head it already holds, so crediting cannot deadlock with any
other movement. (The accounts are deliberately not locked before the batch call: the
call queues batches on an advisory lock first, and taking rows before it would invert
that order against another batch.)
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.errors import AccountClosed, AccountFrozen
from accounts.models import Account, AccountKind, AccountStatus
from accounts.services import system_account
from accounts.services.transfer_batch import (
    TRANSFER_BATCH_MAX,
    SourceRef,
    TransferSpec,
    transfer_batch_post,
)
from compliance.services import case_open
from core.errors import InvariantViolation
from core.pg_arrays import int_array, text_array
from custody.models import AddressPurpose, Deposit, DepositStatus, SuspenseReason
from custody.node import NodeClient, node_client
from custody.services.listeners import listeners_enqueue
from custody.services.suspense import suspense_reason_for
from custody.services.unconfirm import CreditedRow, confirmation_holds_place

logger = logging.getLogger("alatau.custody.deposits")

CREDIT_RETRIES_MAX = 5


def credit_due(report: Any) -> None:
    """Credit every pending deposit that has enough confirmations, in bounded batches.

    ``report`` is the scan's ``ScanReport`` (credited, suspense, held, changed_ids).
    """
    batch_size = min(TRANSFER_BATCH_MAX, max(1, int(settings.DEPOSIT_SCAN_CREDIT_BATCH)))
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
            # The node is asked here, before the batch's transaction opens.
            sanctioned = sanctioned_sources({txid: block for _, txid, block in due})
            _credit_batch([pk for pk, _, _ in due], report, sanctioned)


def sanctioned_sources(
    blocks: dict[str, str], *, client: NodeClient | None = None
) -> dict[str, list[str]]:
    """Return, per txid, the sanctioned addresses among the inputs of the transactions.

    ``blocks`` maps each txid to the hash of the block that holds it ("" if none).
    Asks the node only when the sanctions list has entries, one
    ``getrawtransaction <txid> 2 <blockhash>`` per transaction (verbosity 2 carries
    each input's prevout address; the block hash spares the need for a txindex), so a
    block of 5,000 outputs in one transaction costs one call.
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


class _Due(NamedTuple):
    """A locked pending deposit with what crediting needs of its address and account."""

    pk: int
    txid: str
    vout: int
    amount_sats: int
    reversals: int
    confirmations: int
    purpose: str | None
    account_id: int | None
    account_status: str | None
    required_confirmations: int | None


# The locked read, as plain values: no Deposit, DepositAddress or Account is built.
_DUE_FIELDS = (
    "pk", "txid", "vout", "amount_sats", "reversals", "confirmations",
    "deposit_address__purpose", "deposit_address__account_id",
    "deposit_address__account__status", "deposit_address__required_confirmations",
)  # fmt: skip


def _credit_batch(due: list[int], report: Any, sanctioned: dict[str, list[str]]) -> None:
    """Credit locked pending deposits with one ledger batch call, then record the outcome.

    Money from a sanctioned source, to an unknown address or to an account that is
    not active is held in suspense with its reason and a case: received, booked,
    never lost.
    """
    hot = system_account(AccountKind.CUSTODY_HOT, "BTC")
    suspense = system_account(AccountKind.SUSPENSE, "BTC")
    with transaction.atomic():
        rows = [
            _Due._make(row)
            for row in Deposit.objects.select_for_update(of=("self",))
            .filter(pk__in=due, status=DepositStatus.PENDING)
            .order_by("pk")
            .values_list(*_DUE_FIELDS)
        ]
        if not rows:
            return
        why = {d.pk: _why(d, sanctioned.get(d.txid, [])) for d in rows}
        credit_ids = _post_credits(rows, why, hot.pk, suspense.pk)
        now = timezone.now()
        outcome: list[tuple[str, str]] = []  # (status, suspense reason) per row
        for deposit, (_, credit_id) in zip(rows, credit_ids, strict=True):
            report.changed_ids.add(deposit.pk)
            if credit_id == suspense.pk:
                report.suspense += 1
                outcome.append((DepositStatus.SUSPENSE, why[deposit.pk][0]))
            else:
                report.credited += 1
                outcome.append((DepositStatus.CREDITED, ""))
        _save_credited(rows, [t for t, _ in credit_ids], outcome, now)
        for deposit, (status, reason) in zip(rows, outcome, strict=True):
            if status == DepositStatus.SUSPENSE:
                _suspense_case(
                    deposit.pk, reason, why[deposit.pk][1], sanctioned.get(deposit.txid, [])
                )
        # Credited below its confirmations (HighSpeed): held before anything can spend it.
        report.held += confirmation_holds_place(
            [CreditedRow(d.pk, d.confirmations, d.required_confirmations) for d in rows]
        )
        # The outbox rows commit with the credits.
        listeners_enqueue([d.pk for d in rows if d.purpose == AddressPurpose.INVOICE])


def _why(deposit: _Due, sanctioned: list[str]) -> tuple[str, str]:
    """(reason code, words) for a deposit that goes to suspense; ("", "") if it may not."""
    reason = suspense_reason_for(deposit.account_status, sanctioned)
    if not reason:
        return "", ""
    if sanctioned:
        return reason, f"sanctioned source {', '.join(sanctioned)}"
    if deposit.account_status is None:
        return reason, "unknown address"
    return reason, f"account {deposit.account_status}"


def _post_credits(
    deposits: list[_Due], why: dict[int, tuple[str, str]], hot_id: int, suspense_id: int
) -> list[tuple[int, int]]:
    """Post every credit in one batch; an account frozen or closed meanwhile goes to suspense.

    Returns (transfer id, credited account id) per deposit, in order.
    """
    for _ in range(CREDIT_RETRIES_MAX):
        specs = [
            _deposit_spec(d, hot_id, suspense_id if why[d.pk][0] else _account_id(d))
            for d in deposits
        ]
        try:
            ids = transfer_batch_post(transfers=specs)
        except (AccountFrozen, AccountClosed):
            # Nothing was written (the call ran in a savepoint): read the statuses again
            # and send the accounts no longer active to suspense, then post again.
            accounts = {_account_id(d) for d in deposits if not why[d.pk][0]}
            status = dict(Account.objects.filter(pk__in=accounts).values_list("pk", "status"))
            for d in deposits:
                now_status = status.get(_account_id(d)) if not why[d.pk][0] else None
                if not why[d.pk][0] and now_status != AccountStatus.ACTIVE:
                    why[d.pk] = (SuspenseReason.CREDIT_REFUSED, f"account {now_status}")
            continue
        return [
            (transfer_id, spec.credit_account_id)
            for transfer_id, spec in zip(ids, specs, strict=True)
        ]
    raise InvariantViolation("deposit credits kept failing on account status")


def _account_id(deposit: _Due) -> int:
    if deposit.account_id is None:
        raise InvariantViolation(f"deposit {deposit.pk} has no account to credit")
    return int(deposit.account_id)


def _save_credited(
    deposits: list[_Due], transfer_ids: list[int], outcome: list[tuple[str, str]], now: Any
) -> None:
    """One UPDATE for the batch (Django's bulk_update is a CASE per row and field)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Deposit._meta.db_table} d"  # noqa: S608 - the model's own table name
            " SET transfer_id = u.transfer_id, status = u.status,"
            " suspense_reason = u.reason, credited_at = %s, updated_at = %s"
            " FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[])"
            " AS u(id, transfer_id, status, reason) WHERE d.id = u.id",
            [now, now, int_array(d.pk for d in deposits), int_array(transfer_ids),
             text_array(status for status, _ in outcome),
             text_array(reason for _, reason in outcome)],
        )  # fmt: skip


def _suspense_case(deposit_id: int, reason: str, why: str, sanctioned: list[str]) -> None:
    """Open the case of a deposit held in suspense (rare: its row is read as a model here)."""
    deposit = Deposit.objects.select_related("deposit_address__account__owner").get(pk=deposit_id)
    address = deposit.deposit_address
    account = address.account if address is not None else None
    rule = "sanctioned_source" if sanctioned else "deposit_suspense"
    case_open(
        kind="sanctions" if sanctioned else "deposit_suspense", subject=deposit,
        summary=f"Deposit {deposit.txid}:{deposit.vout} held in suspense ({why})",
        findings=[{"rule": rule, "reason": reason, "detail": why,
                   "address": deposit.address, "sources": sanctioned}],
        customer=account.owner if account is not None else None,
        amount_minor=deposit.amount_sats, currency="BTC",
    )  # fmt: skip


def _deposit_spec(deposit: _Due, hot_id: int, credit_id: int) -> TransferSpec:
    # A re-credit after a reversal (the output was mined again) needs a fresh key.
    suffix = f":r{deposit.reversals}" if deposit.reversals else ""
    return TransferSpec(
        debit_account_id=hot_id,
        credit_account_id=credit_id,
        amount_minor=deposit.amount_sats,
        code="deposit",
        idempotency_key=f"deposit:{deposit.txid}:{deposit.vout}{suffix}",
        memo=f"deposit {deposit.txid}:{deposit.vout}",
        source=SourceRef(Deposit, deposit.pk),
    )
