"""Compliance reads: rule settings, queues, counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Identity, KycStatus
from compliance.models import (
    ApprovalRequest,
    ApprovalStatus,
    Case,
    CaseStatus,
    RuleConfig,
    RuleConfigVersion,
    ScreenedMovement,
)
from compliance.registry import admin_counters_registered
from compliance.rules import CONFIG_DEFAULTS, RULES


def _merged(name: str, row: RuleConfig | RuleConfigVersion | None) -> tuple[bool, dict[str, int]]:
    defaults = RULES[name].defaults if name in RULES else CONFIG_DEFAULTS[name][1]
    if row is None:
        return True, dict(defaults)
    params = dict(defaults)
    params.update({k: int(v) for k, v in (row.params or {}).items() if k in defaults})
    return row.enabled, params


def _versions_at(names: list[str], at: datetime) -> dict[str, RuleConfig | RuleConfigVersion]:
    """The version of each rule in force at ``at``, in one query.

    Before a rule's first recorded version its first version applies (history starts
    with the rows that existed when versioning began); a rule with no version at all
    falls back to its current row.
    """
    rows: dict[str, RuleConfig | RuleConfigVersion] = {}
    in_force = (
        RuleConfigVersion.objects.filter(name__in=names, effective_at__lte=at)
        .order_by("name", "-effective_at", "-pk")
        .distinct("name")
    )
    rows.update({row.name: row for row in in_force})
    missing = [name for name in names if name not in rows]
    if missing:
        first = (
            RuleConfigVersion.objects.filter(name__in=missing)
            .order_by("name", "effective_at", "pk")
            .distinct("name")
        )
        rows.update({row.name: row for row in first})
        missing = [name for name in names if name not in rows]
    if missing:
        rows.update({row.name: row for row in RuleConfig.objects.filter(name__in=missing)})
    return rows


def rule_config(name: str, *, at: datetime | None = None) -> tuple[bool, dict[str, int]]:
    """Return (enabled, params) of a rule: stored values over the code defaults.

    ``at``: the settings in force at that moment (``RuleConfigVersion``), for a decision
    about something requested then; without it, the settings in force now.
    """
    if at is not None:
        return _merged(name, _versions_at([name], at).get(name))
    return _merged(name, RuleConfig.objects.filter(name=name).first())


def rule_configs(*, at: datetime | None = None) -> dict[str, tuple[bool, dict[str, int]]]:
    """Return (enabled, params) of every screening rule, in one query (``at``: as then)."""
    names = list(RULES)
    if at is not None:
        versions = _versions_at(names, at)
        return {name: _merged(name, versions.get(name)) for name in names}
    rows = {row.name: row for row in RuleConfig.objects.filter(name__in=names)}
    return {name: _merged(name, rows.get(name)) for name in names}


def screened_kzt_tiyn(*, subject: Any) -> int | None:
    """Return the KZT value screening stored for ``subject``, if it was screened."""
    stored = (
        ScreenedMovement.objects.filter(
            subject_type=subject._meta.label_lower, subject_id=str(subject.pk)
        )
        .values_list("amount_kzt_tiyn", flat=True)
        .first()
    )
    return None if stored is None else int(stored)


def admin_counters(*, user: Any = None) -> dict[str, Any]:
    """Return the figures shown on the admin index (``mine``: open cases assigned to user).

    Custody and treasury add theirs through ``compliance.registry``.
    """
    counters: dict[str, Any] = {
        "open_cases": Case.objects.filter(~Q(status=CaseStatus.CLOSED)).count(),
        "escalated_cases": Case.objects.filter(status=CaseStatus.ESCALATED).count(),
        "mine": Case.objects.filter(
            ~Q(status=CaseStatus.CLOSED), assignee=getattr(user, "pk", None)
        ).count(),
        "kyc_awaiting": Identity.objects.filter(status=KycStatus.SUBMITTED).count(),
        "withdrawals_awaiting": None,
        "pending_approvals": ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING).count(),
        "reconciliation": _("none yet"),
    }
    counters.update(admin_counters_registered())
    return counters
