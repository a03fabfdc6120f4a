"""Opening ledger accounts (with Kazakh IBAN numbers) and changing their status."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from schwifty import IBAN

from accounts.actor import Actor
from accounts.errors import AccountNotFound
from accounts.events import account_frozen
from accounts.models import OWNED_KINDS, Account, AccountKind, AccountStatus
from audit.chain import audit_record
from core.errors import InvalidState, ValidationFailed
from core.money import Currency, currency_of

# The bank's own accounts per currency. Custody exists only for BTC: KZT never
# leaves the bank except through the exchange desk.
SYSTEM_KINDS: dict[Currency, tuple[AccountKind, ...]] = {
    Currency.BTC: (
        AccountKind.CUSTODY_HOT,
        AccountKind.CUSTODY_COLD,
        AccountKind.IN_TRANSIT,
        AccountKind.FEES,
        AccountKind.EXCHANGE,
        AccountKind.SUSPENSE,
        AccountKind.EXTERNAL,
    ),
    Currency.KZT: (
        AccountKind.FEES,
        AccountKind.EXCHANGE,
        AccountKind.SUSPENSE,
        AccountKind.EXTERNAL,
    ),
}


def _next_account_number() -> str:
    """Return a new Kazakh IBAN: KZ, check digits, 3-digit bank code, 13-digit account."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('accounts_account_number_seq')")
        row = cursor.fetchone()
    assert row is not None
    return str(
        IBAN.generate("KZ", bank_code=settings.BANK_IBAN_CODE, account_code=f"{row[0]:013d}")
    )


def account_open(
    *,
    owner: Any,
    currency: str,
    kind: str = AccountKind.CUSTOMER,
    name: str = "",
    actor: Actor = None,
) -> Account:
    """Open a customer or merchant account in one currency."""
    cur = currency_of(currency)
    if kind not in OWNED_KINDS:
        raise ValidationFailed("Only customer or merchant accounts have owners")
    with transaction.atomic():
        account = Account.objects.create(
            number=_next_account_number(), owner=owner, currency=cur, kind=kind, name=name
        )
        audit_record(
            actor=actor or owner,
            action="account.open",
            obj=account,
            data={"currency": cur, "kind": kind, "number": account.number},
        )
    return account


def system_account(kind: str, currency: str) -> Account:
    """Return the bank's own account of a kind and currency, creating it once."""
    cur = currency_of(currency)
    if kind in OWNED_KINDS or kind not in SYSTEM_KINDS[cur]:
        raise ValidationFailed(f"No system account {kind} in {cur}")
    account = Account.objects.filter(owner__isnull=True, kind=kind, currency=cur).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            account = Account.objects.create(
                number=_next_account_number(), currency=cur, kind=kind, name=f"{kind} {cur}"
            )
            audit_record(
                actor=None,
                action="account.open",
                obj=account,
                data={"currency": cur, "kind": kind, "number": account.number},
            )
    except IntegrityError:
        # A concurrent creator won; the unique (kind, currency) constraint settled it.
        return Account.objects.get(owner__isnull=True, kind=kind, currency=cur)
    return account


def system_accounts_setup() -> list[Account]:
    """Create every system account that is missing (idempotent)."""
    return [system_account(kind, cur) for cur, kinds in SYSTEM_KINDS.items() for kind in kinds]


def ledger_bootstrap() -> None:
    """Make sure the audit chain head and every system account exist (cheap when they do)."""
    from audit.chain import audit_chain_init

    audit_chain_init()
    wanted = sum(len(kinds) for kinds in SYSTEM_KINDS.values())
    if Account.objects.filter(owner__isnull=True).count() < wanted:
        system_accounts_setup()


def _set_status(
    account_id: int, status: str, actor: Actor, reason: str, client_address: str | None
) -> Account:
    if not reason.strip():
        raise ValidationFailed("A reason is required", fields={"reason": ["Say why."]})
    with transaction.atomic():
        account = Account.objects.select_for_update().filter(pk=account_id).first()
        if account is None:
            raise AccountNotFound("Account not found")
        if account.status == AccountStatus.CLOSED:
            raise InvalidState("The account is closed")
        before = account.status
        if before == status:
            return account
        account.status = status
        account.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action=f"account.{status}",
            obj=account,
            data={"before": before, "after": status, "reason": reason},
            client_address=client_address,
        )
    return account


def account_freeze(
    *, account_id: int, actor: Actor, reason: str, client_address: str | None = None
) -> Account:
    """Freeze an account: nothing debits it any more. Permission checks are the caller's.

    Money already on its way out stops too: ``account_frozen`` lets custody send the
    account's approved withdrawals back to review in this same transaction.
    """
    with transaction.atomic():
        account = _set_status(account_id, AccountStatus.FROZEN, actor, reason, client_address)
        account_frozen.send(sender=Account, account=account, actor=actor, reason=reason)
    return account


def account_unfreeze(
    *, account_id: int, actor: Actor, reason: str, client_address: str | None = None
) -> Account:
    """Unfreeze an account. Compliance wraps this in four eyes."""
    return _set_status(account_id, AccountStatus.ACTIVE, actor, reason, client_address)
