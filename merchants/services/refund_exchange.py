"""Refunds of KZT-settled invoices: the store's tenge buys the refund's bitcoin back.

A store with the guaranteed KZT price holds no bitcoin from an invoice settled
to KZT, so a refund of one (in-bank or on-chain, or a paid claim on its Greenfield
refund pull payment) first buys the satoshis it pays out from the bank: the
refund's amount, plus the withdrawal fee for an on-chain one. The price is firm:
the bank's ask rate of the fresh rate in force, the tiyn rounded up (in the bank's
favour), booked as an exchange (two transfers in one group) in the refund's own
transaction (a claim's: its approval, where the withdrawal holds the bitcoin),
after the accounts are locked.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from accounts.errors import InsufficientFunds
from accounts.models import Account, TransferCode
from accounts.services import transfer_create
from audit.chain import audit_record
from core.errors import invariant
from core.money import format_amount
from custody.selectors import withdrawal_fee_sats
from exchange.services import ask_rate, exchange_rate_fresh, kzt_for_btc
from merchants.models import (
    Invoice,
    KztSettlement,
    Merchant,
    PullPaymentPayout,
    Refund,
    RefundKztExchange,
)
from merchants.services.settlement import exchange_accounts_lock


@dataclass(frozen=True)
class BuyBack:
    sats: int
    tiyn: int
    rate_tiyn_per_btc: int


def invoice_kzt_settled(invoice: Invoice) -> bool:
    """Return whether the invoice's bitcoin was exchanged to KZT (its refunds buy it back)."""
    return KztSettlement.objects.filter(invoice=invoice).exists()


def refund_buyback_price(*, sats: int) -> BuyBack:
    """Price ``sats`` at the bank's ask rate now, the tiyn rounded up.

    The rate must be fresh (``RateUnavailable``/``RateStale`` otherwise): a refund
    never buys at a rate staff have stopped standing behind.
    """
    invariant(sats > 0, "a buy-back buys something")
    rate = exchange_rate_fresh()
    ask = ask_rate(int(rate.mid_tiyn_per_btc), int(rate.spread_bp))
    return BuyBack(sats=sats, tiyn=kzt_for_btc(sats, ask, rounding="up"), rate_tiyn_per_btc=ask)


def kzt_funds_check(*, available_tiyn: int, price: BuyBack) -> None:
    """Refuse a refund whose bitcoin the store's KZT balance cannot buy back."""
    if price.tiyn <= available_tiyn:
        return
    need = format_amount(price.tiyn, "KZT", with_code=True)
    have = format_amount(max(available_tiyn, 0), "KZT", with_code=True)
    sats = format_amount(price.sats, "BTC", with_code=True)
    raise InsufficientFunds(
        f"The store's KZT balance is short: buying back {sats} costs {need}; {have} available.",
        fields={
            "amount": [
                _(
                    "This invoice was settled to KZT: buying back %(sats)s costs %(need)s, "
                    "the store has %(have)s available."
                )
                % {"sats": sats, "need": need, "have": have}
            ]
        },
    )


def merchant_kzt_available(merchant: Merchant) -> int:
    """Return the store's available KZT (0 without a KZT account), read without a lock."""
    if merchant.kzt_account_id is None:
        return 0
    account = Account.objects.get(pk=merchant.kzt_account_id)
    return int(account.posted_minor - account.held_minor)


def refund_buyback_lock(*, merchant: Merchant, sats: int, also: Iterable[int] = ()) -> BuyBack:
    """Lock the accounts of a buy-back (and ``also``), price it, check the KZT under the lock."""
    kzt_account_id, _btc, _kzt = exchange_accounts_lock(merchant, also=also)
    price = refund_buyback_price(sats=sats)
    account = Account.objects.get(pk=kzt_account_id)
    kzt_funds_check(available_tiyn=account.posted_minor - account.held_minor, price=price)
    return price


def refund_buyback_book(
    *, refund: Refund, merchant: Merchant, price: BuyBack, actor: Any, client_address: str | None
) -> RefundKztExchange:
    """Book the buy-back of a refund (inside its transaction, accounts locked)."""
    return _buyback_book(
        merchant=merchant,
        price=price,
        source={"refund": refund},
        key=f"refund-kzt:{refund.pk}",
        memo=f"KZT to BTC for a refund of invoice {refund.invoice_id}",
        audit={"invoice": refund.invoice_id, "refund": refund.pk},
        actor=actor,
        client_address=client_address,
    )


def refund_claim_buyback(
    *, row: PullPaymentPayout, merchant: Merchant, actor: Any, client_address: str | None
) -> RefundKztExchange | None:
    """Buy back a refund claim's bitcoin with the store's tenge, as it is paid (row locked).

    Only a claim on the refund pull payment of an invoice settled to KZT: the store sold
    that invoice's bitcoin, so the claim's amount plus the withdrawal fee the store bears
    is bought at the ask (tiyn rounded up), once per payout (its unique row; the caller
    holds the payout's lock and approves it only once), in the approval's transaction,
    before the withdrawal holds it. A short KZT balance raises ``InsufficientFunds``.
    Other payouts pay from the store's BTC as before (None).
    """
    pull = row.pull_payment
    if pull is None or pull.invoice is None or not invoice_kzt_settled(pull.invoice):
        return None
    found = RefundKztExchange.objects.filter(payout=row).first()
    if found is not None:
        return found
    price = refund_buyback_lock(merchant=merchant, sats=row.amount_sats + withdrawal_fee_sats())
    return _buyback_book(
        merchant=merchant,
        price=price,
        source={"payout": row},
        key=f"refund-claim-kzt:{row.pk}",
        memo=f"KZT to BTC for refund payout {row.pk} of invoice {pull.invoice_id}",
        audit={"invoice": pull.invoice_id, "pull_payment": pull.pk, "payout": row.pk},
        actor=actor,
        client_address=client_address,
    )


def _buyback_book(
    *,
    merchant: Merchant,
    price: BuyBack,
    source: dict[str, Any],
    key: str,
    memo: str,
    audit: dict[str, Any],
    actor: Any,
    client_address: str | None,
) -> RefundKztExchange:
    """Book a buy-back: the row (its refund or payout in ``source``) and its two legs."""
    kzt_account_id, btc_exchange, kzt_exchange = exchange_accounts_lock(merchant)
    exchange = RefundKztExchange.objects.create(
        **source,
        merchant=merchant,
        amount_sats=price.sats,
        kzt_tiyn=price.tiyn,
        rate_tiyn_per_btc=price.rate_tiyn_per_btc,
        group_id=uuid.uuid4(),
    )
    legs = (
        (kzt_account_id, kzt_exchange, price.tiyn),
        (btc_exchange, merchant.btc_account_id, price.sats),
    )
    for n, (debit, credit, amount) in enumerate(legs):
        transfer_create(
            debit_account_id=debit,
            credit_account_id=credit,
            amount_minor=amount,
            code=TransferCode.EXCHANGE,
            initiator=actor,
            idempotency_key=f"{key}:{n}",
            source=exchange,
            memo=memo,
            group_id=exchange.group_id,
            kzt_value_tiyn=price.tiyn,
            client_address=client_address,
        )
    audit_record(
        actor=actor,
        action="invoice.refund_kzt_exchange",
        obj=exchange,
        data={
            **audit,
            "amount_sats": price.sats,
            "kzt_tiyn": price.tiyn,
            "ask_rate": price.rate_tiyn_per_btc,
        },
        client_address=client_address,
    )
    return exchange
