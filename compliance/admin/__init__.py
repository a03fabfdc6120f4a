"""The staff admin of compliance (and the KYC review of ``accounts.Identity``).

Every admin action calls a service that checks the staff member's permission.
"""

from compliance.admin import (
    approvals,
    audit,
    cases,
    config,
    corrections,
    kyc,
    rates,
    staff,
)
from compliance.admin.site import AlatauAdminSite

__all__ = [
    "AlatauAdminSite",
    "approvals",
    "audit",
    "cases",
    "config",
    "corrections",
    "kyc",
    "rates",
    "staff",
]
