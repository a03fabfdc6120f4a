"""Opening a report: permission check and an audit event, then the rows to stream."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from django.db import transaction

from accounts.actor import Actor
from accounts.models import User
from audit.chain import audit_record
from compliance import reports
from compliance.permissions import require_perm
from core.errors import NotFound, ValidationFailed

VIEW_REPORTS = "compliance.view_reports"
REPORT_NAMES = ("trial_balance", "large_transactions", "suspicious_activity", "annual_statement")
MAX_RANGE_DAYS = 366


def _range(params: dict[str, Any]) -> tuple[date, date]:
    try:
        start = date.fromisoformat(str(params.get("start", "")))
        end = date.fromisoformat(str(params.get("end", "")))
    except ValueError as exc:
        raise ValidationFailed(
            "Give start and end as YYYY-MM-DD", fields={"start": ["Invalid date."]}
        ) from exc
    if end < start or (end - start).days > MAX_RANGE_DAYS:
        raise ValidationFailed(
            "The range must run forward and span at most a year", fields={"end": ["Out of range."]}
        )
    return start, end


def report_open(
    *, actor: Actor, name: str, params: dict[str, Any], client_address: str | None = None
) -> Iterator[list[str]]:
    """Check the actor may read reports, audit the download, and return its rows."""
    actor = require_perm(actor, VIEW_REPORTS)
    rows: Iterator[list[str]]
    if name == "trial_balance":
        day = None
        if params.get("day"):
            try:
                day = date.fromisoformat(str(params["day"]))
            except ValueError as exc:
                raise ValidationFailed(
                    "Give the day as YYYY-MM-DD", fields={"day": ["Invalid date."]}
                ) from exc
        rows = reports.trial_balance_report(day=day)
    elif name == "large_transactions":
        start, end = _range(params)
        threshold = params.get("threshold_tiyn")
        rows = reports.large_transactions_report(
            start=start, end=end, threshold_tiyn=int(threshold) if threshold else None
        )
    elif name == "suspicious_activity":
        start, end = _range(params)
        rows = reports.suspicious_activity_report(start=start, end=end)
    elif name == "annual_statement":
        user = User.objects.filter(email__iexact=str(params.get("email", "")).strip()).first()
        if user is None:
            raise NotFound("No customer with that email")
        try:
            year = int(params.get("year", 0))
        except ValueError as exc:
            raise ValidationFailed("Give a year", fields={"year": ["Invalid."]}) from exc
        if not 2009 <= year <= 2100:
            raise ValidationFailed("Give a year", fields={"year": ["Out of range."]})
        rows = reports.annual_statement_report(user=user, year=year)
    else:
        raise NotFound("No such report")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="report.download",
            object_type="report",
            object_id=name,
            data={k: str(v) for k, v in params.items()},
            client_address=client_address,
        )
    return rows
