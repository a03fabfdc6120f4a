"""The dashboard: balances, recent activity, what needs the customer's attention."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import current_user, customer_required
from accounts.models import Account, AccountStatus, Identity, Transfer
from accounts.selectors import customer_accounts
from accounts.services.twofactor import twofactor_enabled
from banking.templatetags.bank import movement_detail, movement_label
from banking.views.custody_panels import dashboard_panels
from core.db_reads import lagging_reads

RECENT_MAX = 10


def activity_rows(accounts: list[Account], limit: int) -> list[dict[str, object]]:
    """Return the latest transfers touching the accounts, signed from the customer's side."""
    ids = {a.pk for a in accounts}
    if not ids:
        return []
    transfers = Transfer.objects.filter(
        Q(debit_account_id__in=ids) | Q(credit_account_id__in=ids)
    ).order_by("-id")[:limit]
    rows = []
    for t in transfers:
        incoming = t.credit_account_id in ids
        rows.append(
            {
                "transfer": t,
                "signed_minor": t.amount_minor if incoming else -t.amount_minor,
                "currency": t.currency,
                "label": movement_label(t),
                "detail": movement_detail(t),
            }
        )
    return rows


def _recent_activity(user: object, accounts: list[Account]) -> list[dict[str, object]]:
    """The history panel: may lag, so the replica serves it unless the user just moved money."""
    with lagging_reads(user=user):
        return activity_rows(accounts, RECENT_MAX)


@customer_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    accounts = list(customer_accounts(owner=user))
    identity = Identity.objects.filter(user=user).first()
    context = {
        "accounts": accounts,
        "activity": _recent_activity(user, accounts),
        "identity": identity,
        "frozen": any(a.status == AccountStatus.FROZEN for a in accounts),
        "twofactor_on": twofactor_enabled(user),
        **dashboard_panels(user),
    }
    return render(request, "accounts/dashboard.html", context)
