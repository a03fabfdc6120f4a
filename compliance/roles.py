"""Staff roles as Django groups, and the permissions each one holds.

The data migration creates the groups; a ``post_migrate`` hook keeps their
permissions in step as other apps add models (custody, merchants), so the
auditor's "read-only everywhere" stays true. Permissions are only ever added
here (a permission an administrator grants by hand is left alone), except those in
``NEVER``, which are taken away.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

COMPLIANCE_OFFICER = "compliance officer"
CUSTODY_OPERATOR = "custody operator"
SUPPORT = "support"
AUDITOR = "auditor"

_CUSTOMER_DATA = [
    "accounts.view_user",
    "accounts.view_account",
    "accounts.view_transfer",
    "accounts.view_hold",
    "accounts.view_identity",
    "exchange.view_*",
]

ROLES: dict[str, list[str]] = {
    COMPLIANCE_OFFICER: [
        *_CUSTOMER_DATA,
        "custody.view_*",
        "treasury.view_*",
        "compliance.view_*",
        "audit.view_*",
        "compliance.review_kyc",
        "compliance.view_kyc_document",
        # The one permission that decides a withdrawal under review (custody owns review).
        "custody.review_withdrawal",
        "compliance.freeze_account",
        "compliance.unfreeze_account",
        "compliance.work_case",
        "compliance.add_casenote",
        "compliance.add_caseattachment",
        "compliance.manage_rules",
        "compliance.change_ruleconfig",
        "compliance.manage_sanctions",
        "compliance.add_sanctionedaddress",
        "compliance.change_sanctionedaddress",
        "compliance.change_limits",
        "compliance.change_tierlimit",
        "compliance.view_reports",
        "compliance.correct_ledger",
        "exchange.add_exchangerate",
        "exchange.add_pricingrate",
    ],
    CUSTODY_OPERATOR: [
        "accounts.view_account",
        "accounts.view_transfer",
        "accounts.view_hold",
        "custody.view_*",
        "treasury.view_*",
        "compliance.view_approvalrequest",
        "compliance.view_case",
        "compliance.approve_cold_move",
        "compliance.view_reports",
    ],
    SUPPORT: [
        *_CUSTOMER_DATA,
        "custody.view_*",
        "merchants.view_*",
        "compliance.view_case",
        "compliance.view_casenote",
    ],
    AUDITOR: [
        "*.view_*",
        "compliance.view_reports",
    ],
}


# Never granted to a role, whatever the patterns say: reading OTP devices would show
# their secrets (anyone could then compute a colleague's codes), sessions their keys;
# compliance.decide_withdrawal is gone (custody.review_withdrawal decides alone).
NEVER = [
    "compliance.decide_withdrawal",
    "otp_totp.*",
    "otp_static.*",
    "otp_email.*",
    "sessions.*",
    "auth.*_permission",
]


def _matches(label: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(label, pattern) for pattern in patterns)


def roles_sync(apps: Any = None) -> None:
    """Create the role groups and add the permissions their patterns match."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    permissions = list(
        permission_model.objects.select_related("content_type").values_list(
            "pk", "content_type__app_label", "codename"
        )
    )
    for role, patterns in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = [
            pk
            for pk, app, code in permissions
            if _matches(f"{app}.{code}", patterns) and not _matches(f"{app}.{code}", NEVER)
        ]
        group.permissions.add(*wanted)
        forbidden = [pk for pk, app, code in permissions if _matches(f"{app}.{code}", NEVER)]
        group.permissions.remove(*forbidden)
