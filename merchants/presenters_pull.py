"""Greenfield JSON of pull payments (``PullPaymentData``) and payouts (``PayoutData``)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from custody.models import Withdrawal
from merchants.models import PayoutState, PullPayment, PullPaymentPayout
from merchants.presenters import btc, public_url, unix
from merchants.services.payout_states import payout_proof, payout_state
from merchants.services.pull_payments import PAYOUT_METHOD


def pull_payment_json(pull: PullPayment) -> dict[str, Any]:
    return {
        "id": pull.id,
        "name": pull.name,
        "description": pull.description,
        "currency": "BTC",
        "amount": btc(pull.amount_sats),
        "BOLT11Expiration": "30",
        "autoApproveClaims": False,
        "archived": pull.archived,
        # The payee's claim page (BTCPay's /pull-payments/{id}).
        "viewLink": public_url(reverse("merchants:pull-payment", args=[pull.id])),
        # Alatau's own: the claim window, unix seconds (null: none).
        "startsAt": unix(pull.starts_at) if pull.starts_at else None,
        "expiresAt": unix(pull.expires_at) if pull.expires_at else None,
    }


def payout_json(
    row: PullPaymentPayout, withdrawal_status: str | None, txid: str | None = None
) -> dict[str, Any]:
    """``PayoutData``; ``kind``, ``amount``, ``withdrawalId``, ``status`` are Alatau's extras.

    ``paymentProof`` is the bank's transaction once broadcast (``txid`` of the withdrawal's
    batch), else what the store gave with ``mark``, else absent.
    """
    approved = row.payout_id is not None
    withdrawal = row.payout.withdrawal_id if row.payout else None
    shown = payout_proof(row, withdrawal_status, txid)
    proof = {"paymentProof": shown} if shown else {}
    return {
        **proof,
        "id": row.id,
        "revision": row.revision,
        "pullPaymentId": row.pull_payment_id,
        "date": str(unix(row.created_at)),
        "destination": row.destination,
        "originalCurrency": "BTC",
        "originalAmount": btc(row.amount_sats),
        "payoutCurrency": "BTC",
        "payoutAmount": btc(row.amount_sats) if approved else None,
        "payoutMethodId": PAYOUT_METHOD,
        "state": payout_state(row, withdrawal_status),
        "metadata": row.metadata or {},
        "kind": "OnChain",
        "amount": btc(row.amount_sats),
        "withdrawalId": withdrawal,
        "status": withdrawal_status,
        "createdTime": unix(row.created_at),
    }


def payouts_json(rows: list[PullPaymentPayout]) -> list[dict[str, Any]]:
    """Several payouts, their withdrawals' statuses and txids read in one query."""
    ids = [r.payout.withdrawal_id for r in rows if r.payout and r.payout.withdrawal_id]
    found = Withdrawal.objects.filter(pk__in=ids).values_list("pk", "status", "batch__txid")
    withdrawals = {pk: (status, txid) for pk, status, txid in found}
    out = []
    for row in rows:
        withdrawal = row.payout.withdrawal_id if row.payout else None
        status, txid = withdrawals.get(withdrawal or 0, (None, None))
        out.append(payout_json(row, status, txid))
    return out


def payouts_page(query: Any, limit: int = 100, cancelled: bool = True) -> list[dict[str, Any]]:
    """The newest payouts of ``query``; without the cancelled ones (their state as shown:
    an approved payout whose withdrawal was rejected is Cancelled too) unless ``cancelled``."""
    if not cancelled:
        query = query.exclude(state=PayoutState.CANCELLED)
    rows = payouts_json(list(query.select_related("payout").order_by("-created_at")[:limit]))
    return [r for r in rows if cancelled or r["state"] != PayoutState.CANCELLED]
