"""Greenfield payouts: the store's own, approval, cancellation, marking; BTCPay's state rules.

States: ``AwaitingApproval`` -> (approve) ``AwaitingPayment`` -> ``InProgress`` ->
``Completed`` as the bank's withdrawal moves, or ``Cancelled``. Approval is where money
moves: a withdrawal from the store's BTC account through ``merchant_payout_request``, so
the bank's controls (allow-list and cool-down, tier limits, travel rule, screening and
review) hold whichever door asked. The allow-list applies to every payout except a claim
on an invoice's refund pull payment, which goes to the payer and is bounded by the
invoice's refund cap; when that invoice was settled to KZT, approval first buys the
claim's bitcoin back with the store's tenge (``refund_exchange.refund_claim_buyback``),
in the same transaction. The bank pays every approved payout itself, so the state of an
approved payout follows its withdrawal: a store cannot mark it (BTCPay's ``invalid-state``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.actor import Actor
from audit.chain import audit_record
from core.errors import NotFound, ValidationFailed, invariant
from custody.errors import AddressInvalid, WithdrawalStateError
from custody.models import Withdrawal, WithdrawalStatus
from custody.services import withdrawal_cancel
from custody.services.withdrawals import CheckedAddress, withdrawal_address_checked
from merchants.errors import MerchantErrorCode, PayoutInvalidState, PayoutOldRevision
from merchants.models import (
    Merchant,
    Payout,
    PayoutState,
    PullPaymentPayout,
    RefundKztExchange,
    WebhookEvent,
)
from merchants.services.payouts import merchant_payout_request, payout_address_allowed, payout_event
from merchants.services.pull_payments import address_checked, payout_create
from merchants.services.refund_exchange import refund_claim_buyback

# An approved payout's state follows its withdrawal (still AwaitingPayment otherwise).
WITHDRAWAL_STATE: dict[str, str] = {
    WithdrawalStatus.BATCHED: PayoutState.IN_PROGRESS,
    WithdrawalStatus.BROADCAST: PayoutState.IN_PROGRESS,
    WithdrawalStatus.CONFIRMED: PayoutState.COMPLETED,
    WithdrawalStatus.REJECTED: PayoutState.CANCELLED,
    WithdrawalStatus.CANCELLED: PayoutState.CANCELLED,
    WithdrawalStatus.FAILED: PayoutState.CANCELLED,
}


# BTCPay's on-chain proof (``PayoutTransactionOnChainBlob``), as its PayoutData shows it.
ONCHAIN_PROOF = "PayoutTransactionOnChainBlob"
# The bank's transaction is the proof once the node has it (committed, batched, is not).
PROOF_STATUSES = (WithdrawalStatus.BROADCAST, WithdrawalStatus.CONFIRMED)
PROOF_CHARS_MAX = 2000


def onchain_proof(txid: str) -> dict[str, Any]:
    """BTCPay's on-chain payment proof of ``txid`` (``link`` from ``PAYOUT_TX_LINK``)."""
    template = str(getattr(settings, "PAYOUT_TX_LINK", "") or "")
    return {
        "proofType": ONCHAIN_PROOF,
        "transactionId": txid,
        "candidates": [txid],
        "link": template.format(txid=txid) if template else None,
    }


def payout_proof(
    row: PullPaymentPayout, withdrawal_status: str | None, txid: str | None
) -> dict[str, Any] | None:
    """The proof shown: the bank's transaction once broadcast, else the store's, else none."""
    if txid and withdrawal_status in PROOF_STATUSES:
        return onchain_proof(txid)
    return row.payment_proof or None


class PayoutNotFound(NotFound):
    """The payout does not exist or is not yours."""

    code = MerchantErrorCode.PAYOUT_NOT_FOUND


def store_payout_create(
    *,
    merchant: Merchant,
    destination: Any,
    amount: Any,
    payout_method: Any,
    pull_payment_id: str | None,
    approved: bool,
    metadata: dict[str, Any] | None,
    travel_rule: Any,
    actor: Actor,
    client_address: str | None,
) -> PullPaymentPayout:
    """The store's own payout (``Payouts_CreatePayoutThroughStore``), approved at once if asked.

    Without a pull payment it goes only to the store's allow-list (checked now, and
    again at approval), and needs an amount.
    """
    if pull_payment_id is None:
        if amount in (None, ""):
            raise ValidationFailed("Amount required", fields={"amount": ["Give an amount."]})
        address = address_checked(destination)
        payout_address_allowed(merchant=merchant, address=address)
    # Asked of the node before anything is locked; an approval refused (funds, limits)
    # leaves no payout behind: creation and approval are one transaction.
    checked = _node_checked(address_checked(destination)) if approved else None
    with transaction.atomic():
        row = payout_create(
            pull_payment_id=pull_payment_id,
            merchant=merchant,
            destination=destination,
            amount=amount,
            payout_method=payout_method,
            metadata=metadata,
            travel_rule=travel_rule,
            actor=actor,
        )
        if approved:
            row = payout_approve(
                merchant=merchant,
                payout_id=row.id,
                revision=row.revision,
                actor=actor,
                client_address=client_address,
                checked=checked,
            )
    return row


def _node_checked(address: str) -> CheckedAddress:
    try:
        return withdrawal_address_checked(address)
    except AddressInvalid as exc:  # the API calls the field "destination"
        raise AddressInvalid(
            exc.message, fields={"destination": exc.fields.get("address", [])}
        ) from None


def payout_lock(merchant: Merchant, payout_id: str) -> PullPaymentPayout:
    """Lock the store's payout row, or 404 ``payout-not-found``."""
    row = (
        PullPaymentPayout.objects.select_for_update(of=("self",))
        .select_related("pull_payment", "payout", "merchant")
        .filter(pk=payout_id, merchant=merchant)
        .first()
    )
    if row is None:
        raise PayoutNotFound()
    return row


def payout_approve(
    *,
    merchant: Merchant,
    payout_id: str,
    revision: int,
    actor: Actor,
    client_address: str | None,
    checked: CheckedAddress | None = None,
) -> PullPaymentPayout:
    """Approve a payout: the bank starts the withdrawal from the store's BTC account.

    The destination is checked with the node first, with nothing locked (or ``checked``
    by the caller before its transaction).
    """
    if checked is None:
        unlocked = PullPaymentPayout.objects.filter(merchant=merchant, pk=payout_id).first()
        checked = withdrawal_address_checked(unlocked.destination) if unlocked else None
    with transaction.atomic():
        row = payout_lock(merchant, payout_id)
        if row.state != PayoutState.AWAITING_APPROVAL:
            raise PayoutInvalidState(
                f"The payout is {row.state}: only AwaitingApproval is approved."
            )
        if revision != row.revision:
            raise PayoutOldRevision(f"The payout is at revision {row.revision}.")
        pull = row.pull_payment
        # A claim on a KZT-settled invoice's refund: the store's tenge buys its bitcoin first.
        bought = refund_claim_buyback(
            row=row, merchant=merchant, actor=actor, client_address=client_address
        )
        row.payout = merchant_payout_request(
            merchant=merchant,
            amount_sats=row.amount_sats,
            address=row.destination,
            actor=actor,
            client_address=client_address,
            travel_rule=row.travel_rule,
            refund_claim=pull is not None and pull.invoice_id is not None,
            checked=checked if checked and checked.given == row.destination else None,
            greenfield_payout=row,
        )
        if bought is not None:
            _bought_what_it_holds(bought, row.payout)
        row.state = row.notified_state = PayoutState.AWAITING_PAYMENT
        row.save(update_fields=["payout", "state", "notified_state", "updated_at"])
        audit_record(actor=actor, action="payout.approve", obj=row, data={"revision": revision})
        payout_event(row, WebhookEvent.PAYOUT_APPROVED)
    return row


def _bought_what_it_holds(bought: RefundKztExchange, payout: Payout) -> None:
    """The buy-back bought exactly what the withdrawal holds (amount plus fee)."""
    invariant(payout.withdrawal_id is not None, "an approved payout has its withdrawal")
    held = Withdrawal.objects.filter(pk=payout.withdrawal_id or 0).values_list(
        "amount_sats", "fee_sats"
    )
    invariant(
        [sum(pair) for pair in held] == [bought.amount_sats],
        "a refund claim's buy-back equals its withdrawal's amount plus fee",
    )


def payout_state(row: PullPaymentPayout, withdrawal_status: str | None) -> str:
    """The Greenfield state; an approved payout's follows its withdrawal."""
    if row.state != PayoutState.AWAITING_PAYMENT or withdrawal_status is None:
        return str(row.state)
    return str(WITHDRAWAL_STATE.get(withdrawal_status, PayoutState.AWAITING_PAYMENT))


def payout_cancel(
    *, merchant: Merchant, payout_id: str, actor: Actor, reason: str = "cancelled by the store"
) -> PullPaymentPayout:
    """Cancel a payout the bank has not started sending; its amount is free to claim again.

    As BTCPay: a cancelled one stays so (no error); an ``AwaitingPayment`` one cancels
    its withdrawal while custody still allows (before batching); ``InProgress`` or
    ``Completed`` answers ``invalid-state``.
    """
    with transaction.atomic():
        row = payout_lock(merchant, payout_id)
        if row.state == PayoutState.CANCELLED:
            return row
        if row.state == PayoutState.AWAITING_PAYMENT and row.payout is not None:
            withdrawal_id = row.payout.withdrawal_id
            try:
                if withdrawal_id is None:
                    raise WithdrawalStateError("no withdrawal")
                withdrawal_cancel(withdrawal_id=withdrawal_id, actor=row.payout.merchant.owner)
            except WithdrawalStateError:
                raise PayoutInvalidState("The bank is already sending this payout.") from None
        elif row.state != PayoutState.AWAITING_APPROVAL:
            raise PayoutInvalidState(f"The payout is {row.state}; it cannot be cancelled.")
        row.state = row.notified_state = PayoutState.CANCELLED
        row.save(update_fields=["state", "notified_state", "updated_at"])
        audit_record(actor=actor, action="payout.cancel", obj=row, data={"reason": reason})
        payout_event(row, WebhookEvent.PAYOUT_UPDATED)
    return row


def payout_mark(
    *, merchant: Merchant, payout_id: str, state: str, proof: Any, actor: Actor
) -> PullPaymentPayout:
    """Mark a payout with a state (``PullPayments_MarkPayout``, ``MarkPayoutPaid``).

    BTCPay refuses a payout not yet approved (``invalid-state``). Alatau pays every
    approved payout itself and its state follows the withdrawal, so a store's word
    cannot change it either: the endpoint answers ``invalid-state`` for those too, and
    only repeats a state the payout already has.
    """
    if state not in PayoutState.values or state == PayoutState.AWAITING_APPROVAL:
        raise ValidationFailed(
            "Bad state", fields={"state": ["AwaitingPayment, InProgress, Completed or Cancelled."]}
        )
    with transaction.atomic():
        row = payout_lock(merchant, payout_id)
        if row.state == PayoutState.AWAITING_APPROVAL:
            raise PayoutInvalidState("The payout is not approved.")
        status, txid = _withdrawal_of(row)
        current = payout_state(row, status)
        if current != state:
            raise PayoutInvalidState(
                f"The bank pays this payout: it is {current} and follows its withdrawal."
            )
        if proof:
            # Kept and shown as ``paymentProof`` until the bank's own transaction replaces
            # it; it changes nothing the bank does.
            row.payment_proof = _proof_checked(proof, txid if status in PROOF_STATUSES else None)
            row.save(update_fields=["payment_proof", "updated_at"])
        audit_record(actor=actor, action="payout.mark", obj=row, data={"state": state})
    return row


def _withdrawal_of(row: PullPaymentPayout) -> tuple[str | None, str | None]:
    """The status of the payout's withdrawal and its batch's txid (None, None before)."""
    withdrawal = row.payout.withdrawal_id if row.payout else None
    found = Withdrawal.objects.filter(pk=withdrawal or 0).values_list("status", "batch__txid")
    return found.first() or (None, None)


def _proof_checked(proof: Any, bank_txid: str | None) -> dict[str, Any]:
    """A store's proof as the spec has it (``proofType`` required); an on-chain one must
    name the bank's transaction, once the bank has broadcast it."""
    if not isinstance(proof, dict) or len(str(proof)) > PROOF_CHARS_MAX:
        raise ValidationFailed(
            "Bad proof", fields={"paymentProof": ["An object of at most 2000 characters."]}
        )
    if not isinstance(proof.get("proofType"), str) or not proof["proofType"]:
        raise ValidationFailed(
            "Bad proof", fields={"paymentProof.proofType": ["The type of the proof is required."]}
        )
    if proof["proofType"] != ONCHAIN_PROOF:
        return proof
    if bank_txid is None:
        raise ValidationFailed(
            "Bad proof",
            fields={"paymentProof": ["The bank has not broadcast this payout's transaction."]},
        )
    if proof.get("transactionId") != bank_txid:
        raise ValidationFailed(
            "Bad proof",
            fields={"paymentProof.transactionId": [f"The bank's transaction is {bank_txid}."]},
        )
    return onchain_proof(bank_txid)
