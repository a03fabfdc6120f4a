"""Withdrawal screening: the one place that decides allow, review or block.

Compliance extends :func:`withdrawal_screen` with its rules (sanctions => block, velocity,
first use of an address, ...). It decides; the caller acts on the result (approve, open
a review case, or reject). The one write is compliance's record of the screened movement
(its KZT value and findings: the history velocity and structuring count), made in the
caller's transaction so it commits or rolls back with the withdrawal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings

if TYPE_CHECKING:
    from custody.models import Withdrawal

Decision = Literal["allow", "review", "block"]
_SEVERITY: dict[str, int] = {"allow": 0, "review": 1, "block": 2}


@dataclass(frozen=True)
class ScreeningResult:
    decision: Decision
    findings: list[dict[str, Any]] = field(default_factory=list)

    def merge(self, other: ScreeningResult) -> ScreeningResult:
        """Combine two results: the stricter decision wins, findings add up."""
        worst = max(self.decision, other.decision, key=lambda d: _SEVERITY[d])
        return ScreeningResult(worst, [*self.findings, *other.findings])


def _rule_amount_threshold(withdrawal: Withdrawal) -> ScreeningResult:
    threshold = int(settings.WITHDRAWAL_REVIEW_THRESHOLD_SATS)
    if withdrawal.amount_sats >= threshold:
        finding = {
            "rule": "amount_threshold",
            "detail": "Amount at or above the review threshold",
            "amount_sats": withdrawal.amount_sats,
            "threshold_sats": threshold,
        }
        return ScreeningResult("review", [finding])
    return ScreeningResult("allow")


def _rules_compliance(withdrawal: Withdrawal) -> ScreeningResult:
    """Compliance's rules engine: thresholds in its RuleConfig rows, travel rule, sanctions."""
    from compliance.services import withdrawal_rules_screen

    outcome = withdrawal_rules_screen(withdrawal)
    decision: Decision = (
        "block"
        if outcome.decision == "block"
        else ("review" if outcome.decision == "review" else "allow")
    )
    return ScreeningResult(decision, list(outcome.findings))


def withdrawal_screen(withdrawal: Withdrawal) -> ScreeningResult:
    """Decide whether a requested withdrawal goes ahead, needs review, or is blocked."""
    result = ScreeningResult("allow")
    for rule in (_rule_amount_threshold, _rules_compliance):
        result = result.merge(rule(withdrawal))
    return result
