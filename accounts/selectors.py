"""Reads of the ledger: balances, statements, the trial balance and the invariant check."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Q, QuerySet

from accounts.models import OWNED_KINDS, Account, AccountKind, Transfer
from accounts.references import GUARD_TRIGGERS
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
    first_line = _first_id(account.pk, start, end, after_id)
    opening = _signed_sum(account.pk, before_id=first_line if first_line is not None else 2**62)
    rows = list(_window(account.pk, start, end, after_id, limit + 1))
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


def _branches(
    account_id: int, start: datetime | None, end: datetime | None, after_id: int,
    using: str | None = None,
) -> tuple[QuerySet[Transfer], QuerySet[Transfer]]:  # fmt: skip
    """The account's transfers as debit and as credit, each ordered by its (account, id) index.

    Two ordered index scans merged (UNION ALL) instead of ``debit = a OR credit = a``,
    which PostgreSQL answers with a bitmap of every row of the account and a sort: for
    an account with 100,000 transfers each page would cost the whole account.
    """
    window = Q(pk__gt=after_id)
    if start is not None:
        window &= Q(created_at__gte=start)
    if end is not None:
        window &= Q(created_at__lt=end)
    transfers = Transfer.objects.using(using) if using else Transfer.objects.all()
    debits = transfers.filter(window, debit_account_id=account_id).order_by("pk")
    credits = transfers.filter(window, credit_account_id=account_id).order_by("pk")
    return debits, credits


def _window(
    account_id: int, start: datetime | None, end: datetime | None, after_id: int, limit: int
) -> QuerySet[Transfer]:
    debits, credits = _branches(account_id, start, end, after_id)
    return debits[:limit].union(credits[:limit], all=True).order_by("pk")[:limit]


def _first_id(
    account_id: int, start: datetime | None, end: datetime | None, after_id: int,
    using: str | None = None,
) -> int | None:  # fmt: skip
    ids = [
        branch.values_list("pk", flat=True).first()
        for branch in _branches(account_id, start, end, after_id, using)
    ]
    found = [i for i in ids if i is not None]
    return min(found) if found else None


class StreamLine(NamedTuple):
    """One line of a streamed statement: plain values, no model instance."""

    transfer_id: int
    created_at: datetime
    code: str
    memo: str
    amount_minor: int  # signed: + credit to this account, - debit
    balance_minor: int  # running posted balance after this line
    other_account_id: int = 0  # the account on the other side of the transfer


@dataclass
class StatementStream:
    """A statement read chunk by chunk: ``opening_minor``, then ``lines`` as they come."""

    account: Account
    opening_minor: int
    lines: Iterator[StreamLine]


STREAM_CHUNK = 2_000


def account_statement_stream(
    *,
    account: Account,
    start: datetime | None = None,
    end: datetime | None = None,
    lines_max: int = 1_000_000,
    chunk: int = STREAM_CHUNK,
    using: str = DEFAULT_DB_ALIAS,
) -> Iterator[StatementStream]:
    """Yield one ``StatementStream`` whose lines are read ``chunk`` at a time.

    Use it as ``for stream in account_statement_stream(...)``: the reads run in
    one REPEATABLE READ, READ ONLY transaction held while the lines are consumed,
    so a transfer committed meanwhile cannot slip in between two chunks and the
    running balance always adds up. Memory stays one chunk whatever the length.
    ``using`` names the database (``core.db_reads.lagging_reads``: a replica may serve it).
    """
    db = connections[using]
    outermost = not db.in_atomic_block
    with transaction.atomic(using=using):
        if outermost:  # inside a caller's transaction its snapshot rules apply
            with db.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        first_line = _first_id(account.pk, start, end, 0, using)
        boundary = first_line if first_line is not None else 2**62
        opening = _signed_sum(account.pk, before_id=boundary, using=using)
        lines = _stream_lines(account.pk, start, end, opening, lines_max, chunk, using)
        try:
            yield StatementStream(account, opening, lines)
        finally:
            lines.close()  # its cursor, before the transaction ends (also on an abort)


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)
_STREAM_SQL = """
    SELECT id, created_at, code, memo, amount_minor, credit_account_id, debit_account_id
      FROM accounts_transfer
     WHERE debit_account_id = %(a)s AND created_at >= %(start)s AND created_at < %(end)s
    UNION ALL
    SELECT id, created_at, code, memo, amount_minor, credit_account_id, debit_account_id
      FROM accounts_transfer
     WHERE credit_account_id = %(a)s AND created_at >= %(start)s AND created_at < %(end)s
     ORDER BY id
     LIMIT %(n)s
"""


def _stream_lines(
    account_id: int, start: datetime | None, end: datetime | None, opening: int,
    lines_max: int, chunk: int, using: str,
) -> Generator[StreamLine]:  # fmt: skip
    """The window's lines from one server-side cursor, fetched ``chunk`` rows at a time.

    One query for the whole statement: the two (account, id) index scans merged in id
    order, read on as the lines are consumed, planned once. Asking again for each chunk
    (``id > last``, ``LIMIT chunk``) cost an ORM query per chunk and, with stale table
    statistics, let PostgreSQL answer every chunk with a bitmap of all the account's
    remaining rows and a sort: rows read grew with the square of the statement
    (bench/RESULTS.md, "Scale").
    """
    params: dict[str, int | datetime] = {
        "a": account_id,
        "n": lines_max,
        "start": start if start is not None else _EARLIEST,
        "end": end if end is not None else _LATEST,
    }
    balance = opening
    # A named (server-side) cursor: the rows stay in PostgreSQL until fetched; it lives
    # in the caller's REPEATABLE READ transaction and closes with it or with this generator.
    with connections[using].chunked_cursor() as cursor:
        cursor.execute(_STREAM_SQL, params)
        while rows := cursor.fetchmany(chunk):
            for pk, created_at, code, memo, amount, credit_id, debit_id in rows:
                incoming = credit_id == account_id
                signed = amount if incoming else -amount
                balance += signed
                other = debit_id if incoming else credit_id
                yield StreamLine(pk, created_at, code, memo, signed, balance, other)


def _signed_sum(account_id: int, *, before_id: int, using: str = DEFAULT_DB_ALIAS) -> int:
    with connections[using].cursor() as cursor:
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


_GUARDS = ", ".join(f"('{table}', '{name}')" for table, name in GUARD_TRIGGERS)

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
        # No foreign key: a statement trigger checks inserts (accounts/references.py).
        "every transfer names existing accounts",
        """SELECT t.id, t.debit_account_id, t.credit_account_id FROM accounts_transfer t
             LEFT JOIN accounts_account d ON d.id = t.debit_account_id
             LEFT JOIN accounts_account c ON c.id = t.credit_account_id
            WHERE d.id IS NULL OR c.id IS NULL""",
    ),
    (
        # The key table carries the global keys of the monthly partitions (accounts/partitions.py).
        "every transfer has its key row",
        """SELECT t.id, k.id FROM accounts_transfer t
             FULL JOIN accounts_transferkey k ON k.id = t.id
            WHERE t.id IS NULL OR k.id IS NULL OR k.created_at <> t.created_at
               OR k.initiator_id IS DISTINCT FROM t.initiator_id
               OR k.idempotency_key IS DISTINCT FROM t.idempotency_key
               OR k.request_hash <> t.request_hash
               OR k.reverses_id IS DISTINCT FROM t.reverses_id""",
    ),
    (
        "transfers are immutable (trigger installed)",
        """SELECT 'missing' WHERE NOT EXISTS (
               SELECT 1 FROM pg_trigger WHERE tgname = 'accounts_transfer_immutable'
                  AND tgenabled <> 'D')""",
    ),
    (
        # What stands in for the dropped foreign keys; 'R' would fire only on a replica.
        "references checked (triggers installed)",
        f"""SELECT g.tbl, g.name FROM (VALUES {_GUARDS}) AS g(tbl, name)
            WHERE NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = to_regclass(g.tbl)
                                 AND t.tgname = g.name AND t.tgenabled IN ('O', 'A'))""",  # noqa: S608 - constants only
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
