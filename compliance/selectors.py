"""Compliance reads: rule settings, queues, counters."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db.models import Q
from django.utils import timezone

from compliance.models import Case, CaseStatus, RuleConfig
from compliance.rules import CONFIG_DEFAULTS, RULES


def _merged(name: str, row: RuleConfig | None) -> tuple[bool, dict[str, int]]:
    defaults = RULES[name].defaults if name in RULES else CONFIG_DEFAULTS[name][1]
    if row is None:
        return True, dict(defaults)
    params = dict(defaults)
    params.update({k: int(v) for k, v in (row.params or {}).items() if k in defaults})
    return row.enabled, params


def rule_config(name: str) -> tuple[bool, dict[str, int]]:
    """Return (enabled, params) of a rule: stored values over the code defaults."""
    return _merged(name, RuleConfig.objects.filter(name=name).first())


def rule_configs() -> dict[str, tuple[bool, dict[str, int]]]:
    """Return (enabled, params) of every screening rule, in one query."""
    rows = {row.name: row for row in RuleConfig.objects.filter(name__in=list(RULES))}
    return {name: _merged(name, rows.get(name)) for name in RULES}


def withdrawal_model() -> Any | None:
    """Return custody's Withdrawal model, or None while custody has none."""
    try:
        return apps.get_model("custody", "Withdrawal")
    except LookupError:
        return None


def admin_counters(*, user: Any = None) -> dict[str, Any]:
    """Return the figures shown on the admin index (``mine``: open cases assigned to user)."""
    from accounts.models import Identity

    counters: dict[str, Any] = {
        "open_cases": Case.objects.filter(~Q(status=CaseStatus.CLOSED)).count(),
        "escalated_cases": Case.objects.filter(status=CaseStatus.ESCALATED).count(),
        "mine": Case.objects.filter(
            ~Q(status=CaseStatus.CLOSED), assignee=getattr(user, "pk", None)
        ).count(),
        "kyc_awaiting": Identity.objects.filter(status="submitted").count(),
        "withdrawals_awaiting": None,
        "pending_approvals": _pending_approvals(),
        "reconciliation": "none yet",
    }
    model = withdrawal_model()
    if model is not None:
        counters["withdrawals_awaiting"] = model.objects.filter(status="pending_review").count()
    counters["reconciliation"] = _last_reconciliation()
    return counters


def _pending_approvals() -> int:
    from compliance.models import ApprovalRequest, ApprovalStatus

    return ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING).count()


def _last_reconciliation() -> str:
    """Return the last reconciliation run's status and time (treasury's), or "none yet"."""
    try:
        model = apps.get_model("treasury", "ReconciliationRun")
    except LookupError:
        return "none yet"
    run = model.objects.order_by("-pk").first()
    if run is None:
        return "none yet"
    when = timezone.localtime(run.created_at)
    return f"{run.status} ({when:%Y-%m-%d %H:%M})"
