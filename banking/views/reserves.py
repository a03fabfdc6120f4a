"""Web banking: a customer's proof-of-reserves page and inclusion proof download."""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import customer_required
from treasury.selectors import reserve_accounts_for, reserve_snapshot_latest
from treasury.services import reserve_proof


@customer_required
def reserves_page(request: HttpRequest) -> HttpResponse:
    """Show the latest snapshot's root and total, with a download link per account."""
    snapshot = reserve_snapshot_latest()
    accounts = reserve_accounts_for(user=request.user, snapshot=snapshot) if snapshot else []
    return render(request, "treasury/reserves.html", {"snapshot": snapshot, "accounts": accounts})


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
