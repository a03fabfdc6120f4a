"""Screening rules: each a small named unit with integer thresholds in ``RuleConfig``.

Importing this package registers every rule. ``CONFIG_DEFAULTS`` also holds the
settings rows that are not screening rules (travel rule, four eyes).
"""

from compliance.rules import amount, dormant, first_address, sanctions, structuring, velocity
from compliance.rules.base import ALLOW, BLOCK, REVIEW, RULES, Decision, Finding, Movement
from compliance.rules.sanctions import address_is_sanctioned, sanctioned_among

# Not screening rules, but thresholds staff edit the same way.
TRAVEL_RULE = "travel_rule"
FOUR_EYES_WITHDRAWAL = "four_eyes_withdrawal"
CONFIG_DEFAULTS: dict[str, tuple[str, dict[str, int]]] = {
    # 1,000 USD at about 500 KZT per USD.
    TRAVEL_RULE: (
        "Withdrawals at or over threshold_tiyn need beneficiary data",
        {"threshold_tiyn": 50_000_000},
    ),
    FOUR_EYES_WITHDRAWAL: (
        "Approving a withdrawal at or over threshold_tiyn needs two staff",
        {"threshold_tiyn": 1_000_000_000},
    ),
}

__all__ = [
    "ALLOW",
    "BLOCK",
    "CONFIG_DEFAULTS",
    "FOUR_EYES_WITHDRAWAL",
    "REVIEW",
    "RULES",
    "TRAVEL_RULE",
    "Decision",
    "Finding",
    "Movement",
    "address_is_sanctioned",
    "amount",
    "dormant",
    "first_address",
    "sanctioned_among",
    "sanctions",
    "structuring",
    "velocity",
]
