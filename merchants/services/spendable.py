"""Money waiting for confirmations is the merchant's, but cannot leave the account yet."""

from __future__ import annotations

from accounts.models import Account
from core.money import format_amount
from custody.selectors import unconfirmed_held_sats
from merchants.errors import FundsUnconfirmed


def merchant_spendable_check(*, account_id: int, amount_minor: int) -> None:
    """Refuse a payout, conversion or refund that needs unconfirmed deposit money.

    Custody holds each credited deposit below its confirmations (HighSpeed invoices
    paid at 0 confirmations, or a reorg), so the ledger refuses such a debit anyway;
    this says why, with the amount that is free now. The ledger's locked check
    stays the guarantee; this is read without locks, for the message.
    """
    account = Account.objects.filter(pk=account_id).first()
    if account is None or amount_minor <= account.available_minor:
        return
    waiting = unconfirmed_held_sats(account_id=account_id)
    if waiting <= 0:
        return
    free = format_amount(max(0, account.available_minor), account.currency, with_code=True)
    pending = format_amount(waiting, account.currency, with_code=True)
    raise FundsUnconfirmed(
        f"{pending} of this balance is waiting for confirmations and cannot be paid out, "
        f"converted or refunded yet; {free} is available now.",
        fields={"amount": [f"At most {free} until the deposits confirm."]},
    )
