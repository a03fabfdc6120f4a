"""Screening outgoing movements with the rules, and the travel rule.

Screening is one decision (``Decision``: allow, review or block) made here with
the thresholds in ``RuleConfig``. ``movement_screen`` runs inside the caller's
transaction (custody's withdrawal request calls ``withdrawal_screen``): it records
what the rules saw and, when a rule fires, opens the case, so the flag and the case
commit with the movement's status. The caller acts on the decision.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.models import CaseKind, ScreenedMovement
from compliance.rules import RULES, TRAVEL_RULE, Decision, Finding, Movement
from compliance.selectors import rule_config, rule_configs
from compliance.services.cases import case_open
from core.errors import InvariantViolation, ValidationFailed
from core.money import format_amount
from exchange.rates import kzt_value_tiyn

logger = logging.getLogger("alatau.compliance")


@dataclass(frozen=True)
class Screening:
    """The outcome of screening: the decision, what fired, and the case when flagged."""

    decision: Decision
    findings: list[dict[str, Any]] = field(default_factory=list)
    case_id: int | None = None


class ScreenableWithdrawal(Protocol):
    """What screening reads of a withdrawal (custody's model instance is handed in)."""

    pk: Any
    amount_sats: int
    address: str
    travel_rule: Any
    requested_by: Any


def rules_evaluate(movement: Movement) -> list[Finding]:
    """Run every enabled rule that applies to the movement's kind; return what fired."""
    findings: list[Finding] = []
    configs = rule_configs()
    for name, rule in RULES.items():
        if movement.kind not in rule.kinds:
            continue
        enabled, params = configs[name]
        if not enabled:
            continue
        finding = rule.evaluate(movement, params)
        if finding is not None:
            findings.append(finding)
    return findings


def _decision(findings: list[Finding]) -> Decision:
    if any(f.action == Decision.BLOCK for f in findings):
        return Decision.BLOCK
    return Decision.REVIEW if findings else Decision.ALLOW


def _case_kind(movement: Movement, findings: list[Finding]) -> str:
    if any(f.rule == "sanctioned_address" for f in findings):
        return CaseKind.SANCTIONS
    return CaseKind.WITHDRAWAL_REVIEW if movement.kind == "withdrawal" else CaseKind.OTHER


def _case_open(movement: Movement, subject: models.Model, decision: Decision,
               findings: list[Finding]) -> int:  # fmt: skip
    amount = format_amount(movement.amount_minor, movement.currency, with_code=True)
    rules = ", ".join(f.rule for f in findings)
    case = case_open(
        kind=_case_kind(movement, findings),
        subject=subject,
        summary=f"{movement.kind.capitalize()} {movement.subject_id} of {amount}: "
        f"{decision} ({rules})",
        findings=[f.as_dict() for f in findings],
        customer=movement.user,
        amount_minor=movement.amount_minor,
        currency=movement.currency,
        amount_kzt_tiyn=movement.amount_kzt_tiyn,
    )
    return case.pk


def movement_screen(
    *,
    movement: Movement,
    subject: models.Model,
    extra_findings: list[Finding] | None = None,
) -> Screening:
    """Screen a movement, record it once, and open the case when a rule fires.

    Idempotent per subject: screening the same subject again returns the first
    outcome. ``subject`` is the model instance (the withdrawal) the case is about.
    This is the one place a screening case is opened; the caller only acts on the
    decision (approve, hold for review, or reject).
    """
    with transaction.atomic():
        earlier = ScreenedMovement.objects.filter(
            subject_type=movement.subject_type, subject_id=movement.subject_id
        ).first()
        if earlier is not None:
            return Screening(Decision(earlier.decision), list(earlier.findings), earlier.case_id)
        findings = rules_evaluate(movement) + list(extra_findings or [])
        decision = _decision(findings)
        case_id = None
        if decision != Decision.ALLOW:
            case_id = _case_open(movement, subject, decision, findings)
        as_dicts = [f.as_dict() for f in findings]
        ScreenedMovement.objects.create(
            user=movement.user,
            kind=movement.kind,
            subject_type=movement.subject_type,
            subject_id=movement.subject_id,
            amount_minor=movement.amount_minor,
            currency=movement.currency,
            amount_kzt_tiyn=movement.amount_kzt_tiyn,
            address=movement.address,
            decision=decision,
            findings=as_dicts,
            case_id=case_id,
            created_at=movement.at,
        )
    return Screening(decision, as_dicts, case_id)


def travel_rule_threshold_tiyn() -> int:
    """Return the KZT amount (tiyn) at or over which the travel rule applies."""
    return rule_config(TRAVEL_RULE)[1]["threshold_tiyn"]


def travel_rule_required(amount_kzt_tiyn: int) -> bool:
    """Return whether a withdrawal of this KZT value needs travel-rule data."""
    enabled, params = rule_config(TRAVEL_RULE)
    return enabled and amount_kzt_tiyn >= params["threshold_tiyn"]


WALLET_OWN = "own"
WALLET_PROVIDER = "provider"


def travel_rule_validate(data: Any) -> dict[str, str]:
    """Check and normalise travel-rule data; raise ``ValidationFailed`` with field errors.

    Input: ``{"beneficiary_name": str, "wallet": "own" | "provider",
    "provider_name": str (required when wallet is "provider")}``.
    Returns the cleaned dict to store on the withdrawal (JSON field ``travel_rule``).
    The messages are the customer's, in the active language (the API's is English).
    """
    from compliance.errors import TravelRuleMissing

    if not isinstance(data, dict):
        raise TravelRuleMissing(
            _("Beneficiary details are required"), fields={"beneficiary_name": [_("Required.")]}
        )
    errors: dict[str, list[str]] = {}
    name = str(data.get("beneficiary_name") or "").strip()
    wallet = str(data.get("wallet") or "").strip()
    provider = str(data.get("provider_name") or "").strip()
    if not name:
        errors["beneficiary_name"] = [_("Enter the beneficiary's full name.")]
    elif len(name) > 200:
        errors["beneficiary_name"] = [_("At most 200 characters.")]
    if wallet not in (WALLET_OWN, WALLET_PROVIDER):
        errors["wallet"] = [_("Say whether the address is your own wallet or another provider's.")]
    if wallet == WALLET_PROVIDER and not provider:
        errors["provider_name"] = [_("Name the provider that holds the address.")]
    elif len(provider) > 200:
        errors["provider_name"] = [_("At most 200 characters.")]
    if errors:
        if "beneficiary_name" in errors or "wallet" in errors:
            raise TravelRuleMissing(_("Beneficiary details are required"), fields=errors)
        raise ValidationFailed(_("Beneficiary details are incomplete"), fields=errors)
    cleaned = {"beneficiary_name": name, "wallet": wallet}
    if wallet == WALLET_PROVIDER:
        cleaned["provider_name"] = provider
    return cleaned


def _travel_rule_findings(withdrawal: ScreenableWithdrawal, amount_kzt: int) -> list[Finding]:
    if not travel_rule_required(amount_kzt):
        return []
    try:
        travel_rule_validate(withdrawal.travel_rule)
    except ValidationFailed as exc:
        return [
            Finding(
                "travel_rule",
                Decision.REVIEW,
                "beneficiary data required above the travel-rule threshold",
                {
                    "amount_kzt_tiyn": amount_kzt,
                    "threshold_tiyn": travel_rule_threshold_tiyn(),
                    "missing": ",".join(sorted(exc.fields)),
                },
            )
        ]
    return []


def withdrawal_screen(withdrawal: ScreenableWithdrawal) -> Screening:
    """Screen a custody withdrawal with the rules; open the case when flagged.

    Values the amount in KZT at the rate of now (the time of the request) and
    stores that with the screened movement. Above the travel-rule threshold,
    missing or invalid beneficiary data sends the withdrawal to review.
    """
    if not isinstance(withdrawal, models.Model):
        raise InvariantViolation("screening needs the withdrawal's model instance")
    now = timezone.now()
    amount_kzt = kzt_value_tiyn(amount_minor=withdrawal.amount_sats, currency="BTC", at=now)
    movement = Movement(
        user=withdrawal.requested_by,
        kind="withdrawal",
        subject_type=withdrawal._meta.label_lower,
        subject_id=str(withdrawal.pk),
        amount_minor=withdrawal.amount_sats,
        currency="BTC",
        amount_kzt_tiyn=amount_kzt,
        at=now,
        address=withdrawal.address,
    )
    return movement_screen(
        movement=movement,
        subject=withdrawal,
        extra_findings=_travel_rule_findings(withdrawal, amount_kzt),
    )
