"""Report rows for CSV downloads (reads only; the service in ``services.reports`` audits).

Each report yields a header row then data rows of strings; amounts are printed
with ``format_amount`` and also given in minor units so spreadsheets can sum them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, Transfer
from accounts.selectors import trial_balance
from compliance.models import Case, CaseDecision, CaseStatus
from compliance.selectors import rule_config
from core.money import format_amount
from exchange.rates import kzt_value_tiyn

Row = list[str]
CHUNK = 2000


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _kzt(transfer: Transfer) -> int:
    if transfer.kzt_value_tiyn is not None:
        return int(transfer.kzt_value_tiyn)
    return kzt_value_tiyn(
        amount_minor=transfer.amount_minor, currency=transfer.currency, at=transfer.created_at
    )


def trial_balance_report(*, day: date | None = None) -> Iterator[Row]:
    """Balances per currency and account kind; each currency's total is zero.

    ``day`` gives the balances at the end of that day (from the transfers, which
    are immutable); without it, the current balances and holds.
    """
    yield ["as_of", "currency", "kind", "accounts", "posted_minor", "held_minor", "posted"]
    as_of = "now" if day is None else day.isoformat()
    rows = _balances_now() if day is None else _balances_at(_day_start(day + timedelta(days=1)))
    totals: dict[str, int] = {}
    for currency, kind, accounts, posted, held in rows:
        totals[currency] = totals.get(currency, 0) + posted
        yield [as_of, currency, kind, str(accounts), str(posted), held,
               format_amount(posted, currency)]  # fmt: skip
    for currency, total in sorted(totals.items()):
        yield [as_of, currency, "TOTAL", "", str(total), "", format_amount(total, currency)]


def _balances_now() -> list[tuple[str, str, int, int, str]]:
    return [
        (r.currency, r.kind, r.accounts, r.posted_minor, str(r.held_minor)) for r in trial_balance()
    ]


_BALANCES_AT_SQL = """
WITH moves AS (
    SELECT credit_account_id AS account_id, amount_minor AS signed
      FROM accounts_transfer WHERE created_at < %(end)s
    UNION ALL
    SELECT debit_account_id, -amount_minor
      FROM accounts_transfer WHERE created_at < %(end)s
), per_account AS (
    SELECT account_id, SUM(signed) AS posted FROM moves GROUP BY account_id
)
SELECT a.currency, a.kind, COUNT(*), COALESCE(SUM(p.posted), 0)
  FROM accounts_account a LEFT JOIN per_account p ON p.account_id = a.id
 WHERE a.created_at < %(end)s
 GROUP BY a.currency, a.kind
 ORDER BY a.currency, a.kind
"""


def _balances_at(end: datetime) -> list[tuple[str, str, int, int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(_BALANCES_AT_SQL, {"end": end})
        return [(r[0], r[1], int(r[2]), int(r[3]), "") for r in cursor.fetchall()]


def large_transactions_report(
    *, start: date, end: date, threshold_tiyn: int | None = None
) -> Iterator[Row]:
    """Transfers in [start, end] worth at least the threshold in KZT (default: large_amount)."""
    if threshold_tiyn is None:
        threshold_tiyn = rule_config("large_amount")[1]["threshold_tiyn"]
    yield [
        "transfer_id",
        "created_at",
        "code",
        "currency",
        "amount_minor",
        "amount",
        "kzt_value_tiyn",
        "debit_account",
        "debit_owner",
        "credit_account",
        "credit_owner",
    ]
    transfers = (
        Transfer.objects.filter(
            created_at__gte=_day_start(start), created_at__lt=_day_start(end + timedelta(days=1))
        )
        .exclude(code__in=["fee", "sweep"])
        # Stored KZT values filter in SQL; only rows without one are valued here.
        .filter(Q(kzt_value_tiyn__gte=threshold_tiyn) | Q(kzt_value_tiyn__isnull=True))
        .select_related("debit_account__owner", "credit_account__owner")
        .order_by("pk")
    )
    for t in transfers.iterator(chunk_size=CHUNK):
        kzt = _kzt(t)
        if kzt < threshold_tiyn:
            continue
        yield [
            str(t.pk),
            t.created_at.isoformat(),
            t.code,
            t.currency,
            str(t.amount_minor),
            format_amount(t.amount_minor, t.currency),
            str(kzt),
            t.debit_account.number,
            str(t.debit_account.owner or ""),
            t.credit_account.number,
            str(t.credit_account.owner or ""),
        ]


def suspicious_activity_report(*, start: date, end: date) -> Iterator[Row]:
    """Cases closed in [start, end] with decision "suspicious"."""
    yield [
        "case_id",
        "kind",
        "subject",
        "customer",
        "amount_minor",
        "currency",
        "kzt_value_tiyn",
        "rules",
        "opened_at",
        "closed_at",
        "decided_by",
        "reason",
    ]
    cases = (
        Case.objects.filter(
            status=CaseStatus.CLOSED,
            decision=CaseDecision.SUSPICIOUS,
            closed_at__gte=_day_start(start),
            closed_at__lt=_day_start(end + timedelta(days=1)),
        )
        .select_related("customer", "decided_by")
        .order_by("closed_at", "pk")
    )
    for c in cases.iterator(chunk_size=CHUNK):
        rules = ";".join(str(f.get("rule", "")) for f in c.findings if isinstance(f, dict))
        yield [
            str(c.pk),
            c.kind,
            f"{c.subject_type}:{c.subject_id}",
            str(c.customer or ""),
            "" if c.amount_minor is None else str(c.amount_minor),
            c.currency,
            "" if c.amount_kzt_tiyn is None else str(c.amount_kzt_tiyn),
            rules,
            c.created_at.isoformat(),
            c.closed_at.isoformat() if c.closed_at else "",
            str(c.decided_by or ""),
            c.decision_reason,
        ]


def annual_statement_report(*, user: Any, year: int) -> Iterator[Row]:
    """Every movement on the customer's accounts in ``year`` with its KZT value at the time."""
    yield [
        "account",
        "currency",
        "transfer_id",
        "created_at",
        "code",
        "direction",
        "amount_minor",
        "amount",
        "kzt_value_tiyn",
        "kzt_value",
        "memo",
    ]
    start = _day_start(date(year, 1, 1))
    end = _day_start(date(year + 1, 1, 1))
    for account in Account.objects.filter(owner=user).order_by("currency", "pk"):
        transfers = Transfer.objects.filter(
            Q(debit_account=account) | Q(credit_account=account),
            created_at__gte=start,
            created_at__lt=end,
        ).order_by("pk")
        for t in transfers.iterator(chunk_size=CHUNK):
            direction = "in" if t.credit_account_id == account.pk else "out"
            kzt = _kzt(t)
            yield [
                account.number,
                account.currency,
                str(t.pk),
                t.created_at.isoformat(),
                t.code,
                direction,
                str(t.amount_minor),
                format_amount(t.amount_minor, t.currency),
                str(kzt),
                format_amount(kzt, "KZT"),
                t.memo,
            ]
