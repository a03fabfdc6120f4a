"""Staff changes to rule settings (thresholds are integers; unknown keys are refused)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from audit.chain import audit_record
from compliance.models import RuleConfig
from compliance.permissions import require_perm
from compliance.rules import CONFIG_DEFAULTS, RULES
from core.errors import ValidationFailed

MANAGE_RULES = "compliance.manage_rules"
PARAM_MAX = 10**15


def rule_config_update(
    *,
    actor: Any,
    name: str,
    enabled: bool,
    params: dict[str, Any],
    client_address: str | None = None,
) -> RuleConfig:
    """Change a rule's switch and thresholds; audited with before and after."""
    actor = require_perm(actor, MANAGE_RULES)
    if name in RULES:
        defaults = RULES[name].defaults
    elif name in CONFIG_DEFAULTS:
        defaults = CONFIG_DEFAULTS[name][1]
    else:
        raise ValidationFailed("Unknown rule", fields={"name": [name]})
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
    with transaction.atomic():
        row, _ = RuleConfig.objects.select_for_update().get_or_create(
            name=name, defaults={"params": dict(defaults)}
        )
        before = {"enabled": row.enabled, "params": dict(row.params)}
        row.enabled = bool(enabled)
        row.params = {**defaults, **params}
        row.save(update_fields=["enabled", "params", "updated_at"])
        audit_record(
            actor=actor,
            action="rule.update",
            obj=row,
            data={"before": before, "after": {"enabled": row.enabled, "params": row.params}},
            client_address=client_address,
        )
    return row
