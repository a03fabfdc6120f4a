"""Reads of the ledger: balances, statements, the trial balance and the invariant check."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from accounts.models import OWNED_KINDS, Account, AccountKind, Transfer
from core.errors import NotFound

STATEMENT_PAGE_MAX = 500


@dataclass(frozen=True)
class Balance:
    account_id: int
    number: str
    currency: str
    posted_minor: int
    held_minor: int

    @property
    def available_minor(self) -> int:
        return self.posted_minor - self.held_minor


def account_balance(*, account: Account) -> Balance:
    """Return posted, held and available balance of one account (fresh from the database)."""
    row = Account.objects.values("posted_minor", "held_minor").get(pk=account.pk)
    return Balance(
        account.pk, account.number, account.currency, row["posted_minor"], row["held_minor"]
    )


def accounts_for_owner(*, owner: Any) -> QuerySet[Account]:
    """Return a user's ledger accounts (customer or merchant), in a stable order."""
    return Account.objects.filter(owner=owner, kind__in=OWNED_KINDS).order_by("currency", "id")


def customer_accounts(*, owner: Any) -> QuerySet[Account]:
    """Return a customer's own accounts (one per currency), BTC first."""
    return Account.objects.filter(owner=owner, kind=AccountKind.CUSTOMER).order_by("currency")


def customer_account(*, owner: Any, currency: str) -> Account:
    """Return the customer's account in ``currency``, or raise ``NotFound``."""
    account = customer_accounts(owner=owner).filter(currency=currency).first()
    if account is None:
        raise NotFound(f"You have no {currency} account.")
    return account


@dataclass(frozen=True)
class StatementLine:
    transfer: Transfer
    amount_minor: int  # signed: + credit to this account, - debit
    balance_minor: int  # running posted balance after this line


@dataclass
class Statement:
    account: Account
    opening_minor: int
    closing_minor: int
    lines: list[StatementLine] = field(default_factory=list)
    has_more: bool = False


def account_statement(
    *,
    account: Account,
    start: datetime | None = None,
    end: datetime | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> Statement:
    """Return the account's transfers in [start, end) with a running balance.

    Paginated by transfer id (``after_id``, ``limit`` at most 500). The opening
    balance is the sum of every earlier transfer, so lines always add up.
    """
    limit = max(1, min(limit, STATEMENT_PAGE_MAX))
    touches = Q(debit_account=account) | Q(credit_account=account)
    window = Transfer.objects.filter(touches)
    if start is not None:
        window = window.filter(created_at__gte=start)
    if end is not None:
        window = window.filter(created_at__lt=end)
    first_line = window.filter(pk__gt=after_id).order_by("pk").values_list("pk", flat=True).first()
    boundary = first_line if first_line is not None else 2**62
    opening = _signed_sum(account.pk, before_id=boundary)
    rows = list(window.filter(pk__gt=after_id).order_by("pk")[: limit + 1])
    has_more = len(rows) > limit
    balance = opening
    lines: list[StatementLine] = []
    for transfer in rows[:limit]:
        signed = (
            transfer.amount_minor
            if transfer.credit_account_id == account.pk
            else -transfer.amount_minor
        )
        balance += signed
        lines.append(StatementLine(transfer, signed, balance))
    return Statement(account, opening, balance, lines, has_more)


def _signed_sum(account_id: int, *, before_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT COALESCE(SUM(CASE WHEN credit_account_id = %(a)s THEN amount_minor
                                     ELSE -amount_minor END), 0)
              FROM accounts_transfer
             WHERE (debit_account_id = %(a)s OR credit_account_id = %(a)s) AND id < %(b)s
            """,
            {"a": account_id, "b": before_id},
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class TrialBalanceRow:
    currency: str
    kind: str
    accounts: int
    posted_minor: int
    held_minor: int


def trial_balance() -> list[TrialBalanceRow]:
    """Return balances summed per currency and account kind; each currency sums to zero."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT currency, kind, COUNT(*), SUM(posted_minor), SUM(held_minor)
              FROM accounts_account GROUP BY currency, kind ORDER BY currency, kind
            """
        )
        return [
            TrialBalanceRow(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in cursor.fetchall()
        ]


@dataclass(frozen=True)
class LedgerBreach:
    check: str
    detail: str


_CHECKS: list[tuple[str, str]] = [
    (
        "currency sums to zero",
        """SELECT currency, SUM(posted_minor) FROM accounts_account
            GROUP BY currency HAVING SUM(posted_minor) <> 0""",
    ),
    (
        "posted equals the sum of transfers",
        """SELECT a.id, a.posted_minor, COALESCE(c.s, 0) - COALESCE(d.s, 0)
             FROM accounts_account a
             LEFT JOIN (SELECT credit_account_id id, SUM(amount_minor) s FROM accounts_transfer
                         GROUP BY credit_account_id) c ON c.id = a.id
             LEFT JOIN (SELECT debit_account_id id, SUM(amount_minor) s FROM accounts_transfer
                         GROUP BY debit_account_id) d ON d.id = a.id
            WHERE a.posted_minor <> COALESCE(c.s, 0) - COALESCE(d.s, 0)""",
    ),
    (
        "held equals the sum of open holds",
        """SELECT a.id, a.held_minor, COALESCE(h.s, 0)
             FROM accounts_account a
             LEFT JOIN (SELECT account_id id, SUM(amount_minor) s FROM accounts_hold
                         WHERE status = 'open' GROUP BY account_id) h ON h.id = a.id
            WHERE a.held_minor <> COALESCE(h.s, 0)""",
    ),
    (
        "no owned account below zero available",
        """SELECT id, posted_minor, held_minor FROM accounts_account
            WHERE kind = ANY(%(owned)s) AND posted_minor - held_minor < 0""",
    ),
    (
        "transfers are balanced and positive",
        """SELECT t.id, t.amount_minor FROM accounts_transfer t
             JOIN accounts_account d ON d.id = t.debit_account_id
             JOIN accounts_account c ON c.id = t.credit_account_id
            WHERE t.amount_minor <= 0 OR d.currency <> t.currency OR c.currency <> t.currency""",
    ),
    (
        "transfers are immutable (trigger installed)",
        """SELECT 'missing' WHERE NOT EXISTS (
               SELECT 1 FROM pg_trigger WHERE tgname = 'accounts_transfer_immutable'
                  AND tgenabled <> 'D')""",
    ),
]


def ledger_check() -> list[LedgerBreach]:
    """Run every ledger invariant against the database; return the breaches (empty = sound)."""
    breaches: list[LedgerBreach] = []
    owned = [str(k) for k in OWNED_KINDS]
    with connection.cursor() as cursor:
        for name, sql in _CHECKS:
            cursor.execute(sql, {"owned": owned})
            breaches.extend(LedgerBreach(name, repr(tuple(row))) for row in cursor.fetchmany(50))
    return breaches
