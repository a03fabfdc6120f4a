"""Four-eyes requests described in words a compliance officer reads at a glance."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from compliance.models import ApprovalRequest
from compliance.permissions import has_perm
from compliance.services.approvals import approval_action
from core.admin_tools import amount_unit
from core.errors import ApplicationError
from core.money import format_amount


def _param(name: str, value: Any) -> str:
    unit = amount_unit(name)
    label = name
    for suffix in ("_sats", "_tiyn", "_minor"):
        label = label.removesuffix(suffix)
    label = label.replace("_", " ")
    if unit is not None and isinstance(value, int) and not isinstance(value, bool):
        return f"{label} {format_amount(value, unit or 'BTC', with_code=True)}"
    return f"{label} {value}"


def approval_words(request: ApprovalRequest) -> str:
    """Return e.g. "Approve a large withdrawal: custody.withdrawal 12 (amount 1.50000000 BTC)"."""
    try:
        described = approval_action(request.action).description
    except ApplicationError:
        described = ""
    # The registered descriptions are marked with gettext_noop: translate them here.
    if described and described != "...":
        what = _(described).strip(". ")
    else:
        what = request.action.replace("_", " ")
    target = f"{request.target_type} {request.target_id}".strip()
    params = ", ".join(_param(k, v) for k, v in sorted((request.params or {}).items()))
    text = f"{what}: {target}" if target else what
    return f"{text} ({params})" if params else text


def approval_permitted(user: Any, request: ApprovalRequest) -> bool:
    """Return whether ``user`` may decide this request (not the proposer, has the permission)."""
    if request.proposed_by_id == getattr(user, "pk", None):
        return False
    try:
        return has_perm(user, approval_action(request.action).permission)
    except ApplicationError:
        return False
