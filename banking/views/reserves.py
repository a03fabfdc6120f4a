"""Web banking: a customer's proof-of-reserves page and inclusion proof download."""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import customer_required
from treasury.selectors import reserve_accounts_for, reserve_snapshot_latest
from treasury.services import reserve_proof


def reserves_page(request: HttpRequest) -> HttpResponse:
    """Show the latest snapshot to anyone: root, totals, coverage and a verifier.

    Public on purpose: a proof of reserves that only customers can read proves
    little. Signed-in customers also get a download link per account.
    """
    snapshot = reserve_snapshot_latest()
    user = request.user
    signed_in_customer = user.is_authenticated and not user.is_staff
    accounts = (
        reserve_accounts_for(user=user, snapshot=snapshot)
        if snapshot and signed_in_customer
        else []
    )
    context: dict[str, object] = {"snapshot": snapshot, "accounts": accounts}
    if snapshot is not None:
        liabilities, assets = snapshot.total_sats, snapshot.assets_total_sats
        context["shortfall_sats"] = max(0, liabilities - assets)
        # Whole percent, rounded down, so 99.99 % never reads as 100 %.
        context["ratio_percent"] = assets * 100 // liabilities if liabilities else None
    return render(request, "treasury/reserves.html", context)


@customer_required
def reserves_proof(request: HttpRequest) -> HttpResponse:
    """Download the customer's inclusion proof in the latest snapshot (JSON file)."""
    snapshot = reserve_snapshot_latest()
    if snapshot is None:
        raise Http404("No proof-of-reserves snapshot yet")
    accounts = reserve_accounts_for(user=request.user, snapshot=snapshot)
    wanted = request.GET.get("account", "")
    chosen = [a for a in accounts if not wanted or a.number == wanted]
    if not chosen:
        raise Http404("None of your accounts is in the latest snapshot")
    proof = reserve_proof(snapshot=snapshot, account=chosen[0])
    response = HttpResponse(json.dumps(proof, indent=2), content_type="application/json")
    filename = f"alatau-reserves-{snapshot.pk}-{chosen[0].number}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
