"""Every write of compliance, split by concept and re-exported here.

What other apps call:
- ``limits_check(*, user, kind, amount_kzt_tiyn)`` raises ``LimitExceeded``;
- ``withdrawal_screen(withdrawal)`` (custody's request; the one screening decision, which
  opens the case when flagged), ``movement_screen(*, movement, subject)``,
  ``travel_rule_required``, ``travel_rule_validate``;
- ``address_is_sanctioned(address)`` (deposit sources);
- ``case_open(...)``; ``approval_action_register(...)`` for new four-eyes actions.
"""

from compliance.rules import address_is_sanctioned, sanctioned_among
from compliance.services.actions import (
    staff_account_freeze,
    staff_account_unfreeze_propose,
)
from compliance.services.approvals import (
    approval_action_register,
    approval_approve,
    approval_propose,
    approval_reject,
)
from compliance.services.cases import (
    case_assign,
    case_attach,
    case_close,
    case_escalate,
    case_finding_add,
    case_note_add,
    case_open,
)
from compliance.services.kyc import (
    identity_approve,
    identity_approve_propose,
    identity_document_open,
    identity_reject,
    identity_review_approve,
)
from compliance.services.limits import limits_check, tier_limit_propose, user_tier
from compliance.services.rules_admin import rule_config_propose
from compliance.services.sanctions import (
    sanctioned_address_add,
    sanctioned_address_deactivate_propose,
    sanctioned_address_set_active,
    sanctions_import_csv,
)
from compliance.services.screening import (
    Screening,
    movement_screen,
    travel_rule_required,
    travel_rule_validate,
    withdrawal_screen,
)
from compliance.services.staff import staff_role_propose
from exchange.rates import kzt_value_tiyn

__all__ = [
    "Screening",
    "address_is_sanctioned",
    "approval_action_register",
    "approval_approve",
    "approval_propose",
    "approval_reject",
    "case_assign",
    "case_attach",
    "case_close",
    "case_escalate",
    "case_finding_add",
    "case_note_add",
    "case_open",
    "identity_approve",
    "identity_approve_propose",
    "identity_document_open",
    "identity_reject",
    "identity_review_approve",
    "kzt_value_tiyn",
    "limits_check",
    "movement_screen",
    "rule_config_propose",
    "sanctioned_address_add",
    "sanctioned_address_deactivate_propose",
    "sanctioned_address_set_active",
    "sanctioned_among",
    "sanctions_import_csv",
    "staff_account_freeze",
    "staff_account_unfreeze_propose",
    "staff_role_propose",
    "tier_limit_propose",
    "travel_rule_required",
    "travel_rule_validate",
    "user_tier",
    "withdrawal_screen",
]
