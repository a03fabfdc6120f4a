"""Changing a rule's switch or thresholds is a four-eyes action.

One staff member with ``compliance.manage_rules`` proposes new settings; a different
one approves, and only then are they written, in the approval's transaction. The
database records each new version with the moment it took effect
(``RuleConfigVersion``), so a decision already waiting (a withdrawal requested before)
is made with the rules in force when it was requested.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext_noop

from accounts.actor import Actor
from audit.chain import audit_record
from compliance.models import ApprovalRequest, RuleConfig
from compliance.permissions import require_perm
from compliance.rules import CONFIG_DEFAULTS, RULES
from compliance.services.approvals import approval_action_register, approval_propose
from core.errors import Conflict, ValidationFailed

MANAGE_RULES = "compliance.manage_rules"
RULE_CHANGE = "rule_change"
PARAM_MAX = 10**15


def _defaults(name: str) -> dict[str, int]:
    if name in RULES:
        return dict(RULES[name].defaults)
    if name in CONFIG_DEFAULTS:
        return dict(CONFIG_DEFAULTS[name][1])
    raise ValidationFailed("Unknown rule", fields={"name": [name]})


def _check_params(defaults: dict[str, int], params: Any) -> None:
    if not isinstance(params, dict):
        raise ValidationFailed("Parameters must be an object", fields={"params": ["Not a dict."]})
    errors: dict[str, list[str]] = {}
    for key, value in params.items():
        if key not in defaults:
            errors[key] = [f"Unknown parameter; expected one of {sorted(defaults)}"]
        elif not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= PARAM_MAX:
            errors[key] = ["A whole number between 0 and 10^15."]
    if errors:
        raise ValidationFailed("Invalid rule parameters", fields=errors)


def rule_config_propose(
    *,
    actor: Actor,
    name: str,
    enabled: bool,
    params: dict[str, Any],
    reason: str,
    client_address: str | None = None,
) -> ApprovalRequest:
    """Propose new settings for a rule; they apply when a second person approves."""
    actor = require_perm(actor, MANAGE_RULES)
    defaults = _defaults(name)
    _check_params(defaults, params)
    row = RuleConfig.objects.filter(name=name).first()
    before = {"enabled": row.enabled, "params": dict(row.params)} if row else None
    after = {"enabled": bool(enabled), "params": {**defaults, **params}}
    if before == after:
        raise ValidationFailed("Nothing to change", fields={"params": ["Same as in force."]})
    return approval_propose(
        actor=actor,
        action=RULE_CHANGE,
        target_type=RuleConfig._meta.label_lower,
        target_id=name,
        params={"name": name, "before": before, "after": after},
        reason=reason,
        client_address=client_address,
    )


def _rule_change_execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    name, after = request.params["name"], request.params["after"]
    with transaction.atomic():
        row, _ = RuleConfig.objects.select_for_update().get_or_create(
            name=name, defaults={"params": _defaults(name)}
        )
        before = {"enabled": row.enabled, "params": dict(row.params)}
        if request.params.get("before") not in (None, before):
            raise Conflict("The rule changed since this was proposed; propose again")
        row.enabled = bool(after["enabled"])
        row.params = dict(after["params"])
        with connection.cursor() as cursor:
            # The version trigger records which approval put these settings in force.
            cursor.execute("SELECT set_config('alatau.rule_approval', %s, true)", [str(request.pk)])
            row.save(update_fields=["enabled", "params", "updated_at"])
            cursor.execute("SELECT set_config('alatau.rule_approval', '', true)")
        audit_record(
            actor=actor,
            action="rule.update",
            obj=row,
            data={
                "before": before,
                "after": after,
                "approval": request.pk,
                "proposed_by": request.proposed_by_id,
            },
        )
    return {"rule": name, "enabled": row.enabled, "params": row.params}


approval_action_register(
    RULE_CHANGE,
    permission=MANAGE_RULES,
    executor=_rule_change_execute,
    description=gettext_noop("Change a screening rule or threshold"),
)
