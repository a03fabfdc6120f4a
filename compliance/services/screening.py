"""Screening outgoing movements with the rules, and the travel rule.

``movement_screen`` runs inside the caller's transaction (custody's
``withdrawal_screen``): it records what the rules saw, and when a rule fires
it opens a case, so the flag and the case commit with the movement's status.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from compliance.models import CaseKind, ScreenedMovement
from compliance.rules import ALLOW, BLOCK, REVIEW, RULES, TRAVEL_RULE, Finding, Movement
from compliance.selectors import rule_config, rule_configs
from compliance.services.cases import case_open
from core.errors import ValidationFailed

logger = logging.getLogger("alatau.compliance")


@dataclass(frozen=True)
class Screening:
    """The outcome: ``decision`` is "allow", "review" or "block"; ``case_id`` when flagged."""

    decision: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    case_id: int | None = None


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


def _decision(findings: list[Finding]) -> str:
    if any(f.action == BLOCK for f in findings):
        return BLOCK
    return REVIEW if findings else ALLOW


def movement_screen(
    *,
    movement: Movement,
    subject: Any,
    extra_findings: list[Finding] | None = None,
    open_case: bool = True,
) -> Screening:
    """Screen a movement, record it once, and (``open_case``) open a case when a rule fires.

    Idempotent per subject: screening the same subject again returns the first
    outcome. ``subject`` is the model instance (the withdrawal) the case is about.
    Custody's withdrawal request opens its own case, so it passes ``open_case=False``.
    """
    with transaction.atomic():
        earlier = ScreenedMovement.objects.filter(
            subject_type=movement.subject_type, subject_id=movement.subject_id
        ).first()
        if earlier is not None:
            return Screening(earlier.decision, list(earlier.findings), earlier.case_id)
        findings = rules_evaluate(movement) + list(extra_findings or [])
        decision = _decision(findings)
        as_dicts = [f.as_dict() for f in findings]
        case = None
        if decision != ALLOW and open_case:
            sanctioned = any(f.rule == "sanctioned_address" for f in findings)
            kind = CaseKind.SANCTIONS if sanctioned else CaseKind.WITHDRAWAL_REVIEW
            if movement.kind != "withdrawal" and not sanctioned:
                kind = CaseKind.OTHER
            rules = ", ".join(f.rule for f in findings)
            case = case_open(
                kind=kind,
                subject=subject,
                summary=f"{movement.kind} {decision}: {rules}",
                findings=as_dicts,
                customer=movement.user,
                amount_minor=movement.amount_minor,
                currency=movement.currency,
                amount_kzt_tiyn=movement.amount_kzt_tiyn,
            )
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
            case=case,
            created_at=movement.at,
        )
    return Screening(decision, as_dicts, case.pk if case else None)


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
    """
    from compliance.errors import TravelRuleMissing

    if not isinstance(data, dict):
        raise TravelRuleMissing(
            "Beneficiary details are required", fields={"beneficiary_name": ["Required."]}
        )
    errors: dict[str, list[str]] = {}
    name = str(data.get("beneficiary_name") or "").strip()
    wallet = str(data.get("wallet") or "").strip()
    provider = str(data.get("provider_name") or "").strip()
    if not name:
        errors["beneficiary_name"] = ["Enter the beneficiary's full name."]
    elif len(name) > 200:
        errors["beneficiary_name"] = ["At most 200 characters."]
    if wallet not in (WALLET_OWN, WALLET_PROVIDER):
        errors["wallet"] = ["Say whether the address is your own wallet or another provider's."]
    if wallet == WALLET_PROVIDER and not provider:
        errors["provider_name"] = ["Name the provider that holds the address."]
    elif len(provider) > 200:
        errors["provider_name"] = ["At most 200 characters."]
    if errors:
        if "beneficiary_name" in errors or "wallet" in errors:
            raise TravelRuleMissing("Beneficiary details are required", fields=errors)
        raise ValidationFailed("Beneficiary details are incomplete", fields=errors)
    cleaned = {"beneficiary_name": name, "wallet": wallet}
    if wallet == WALLET_PROVIDER:
        cleaned["provider_name"] = provider
    return cleaned


def withdrawal_rules_screen(withdrawal: Any) -> Screening:
    """Screen a custody withdrawal with the compliance rules (custody's hook calls this).

    Values the amount in KZT at the rate of now (the time of the request) and
    stores that with the screened movement. Above the travel-rule threshold,
    missing or invalid beneficiary data sends the withdrawal to review. Custody
    opens the case itself, so none is opened here.
    """
    from django.utils import timezone

    from exchange.rates import kzt_value_tiyn

    now = timezone.now()
    amount_kzt = kzt_value_tiyn(amount_minor=withdrawal.amount_sats, currency="BTC", at=now)
    extra: list[Finding] = []
    if travel_rule_required(amount_kzt):
        try:
            travel_rule_validate(withdrawal.travel_rule)
        except ValidationFailed as exc:
            extra.append(
                Finding(
                    "travel_rule",
                    REVIEW,
                    "beneficiary data required above the travel-rule threshold",
                    {
                        "amount_kzt_tiyn": amount_kzt,
                        "threshold_tiyn": travel_rule_threshold_tiyn(),
                        "missing": ",".join(sorted(exc.fields)),
                    },
                )
            )
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
        movement=movement, subject=withdrawal, extra_findings=extra, open_case=False
    )
