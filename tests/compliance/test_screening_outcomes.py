"""What screening does with the rules' findings: which rules run, the case, the travel rule.

Written for the survivors of the mutation check (docs/testing.md): each test names the
mistake it catches.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from accounts.models import User
from compliance.models import Case, CaseKind, RuleConfig
from compliance.rules import ALLOW, REVIEW
from compliance.services.screening import (
    movement_screen,
    travel_rule_required,
    travel_rule_threshold_tiyn,
    travel_rule_validate,
)
from core.errors import ValidationFailed
from tests.compliance.test_rules import fired, movement, only

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user()


def test_a_rule_that_does_not_apply_to_the_kind_does_not_stop_the_later_rules(
    user: User,
) -> None:
    # first_address and sanctioned_address apply to withdrawals only and come before
    # velocity: skipping them for a transfer must not skip velocity.
    only("velocity", count_min=1, sum_tiyn_min=10**12, window_minutes=60)
    RuleConfig.objects.filter(name__in=["first_address", "sanctioned_address"]).update(enabled=True)
    assert fired(movement(user, 100, kind="transfer")) == ["velocity"]


def test_a_flagged_withdrawal_opens_a_withdrawal_review_case_with_the_amount(
    user: User,
) -> None:
    only("large_amount", threshold_tiyn=1_000_00)
    screening = movement_screen(movement=movement(user, 2_500_00), subject=user)
    assert screening.decision == REVIEW and screening.case_id is not None
    case = Case.objects.get(pk=screening.case_id)
    assert case.kind == CaseKind.WITHDRAWAL_REVIEW  # not sanctions, not "other"
    assert "2500.00 KZT" in case.summary and "large_amount" in case.summary


def test_a_flagged_transfer_opens_a_case_of_kind_other(user: User) -> None:
    only("velocity", count_min=1, sum_tiyn_min=10**12, window_minutes=60)
    screening = movement_screen(movement=movement(user, 100, kind="transfer"), subject=user)
    assert screening.decision == REVIEW and screening.case_id is not None
    assert Case.objects.get(pk=screening.case_id).kind == CaseKind.OTHER


def test_an_allowed_movement_opens_no_case(user: User) -> None:
    only("large_amount", threshold_tiyn=1_000_00)
    screening = movement_screen(movement=movement(user, 1_000_00 - 1), subject=user)
    assert (screening.decision, screening.case_id) == (ALLOW, None)
    assert not Case.objects.exists()


def test_the_travel_rule_applies_at_and_above_its_threshold() -> None:
    threshold = travel_rule_threshold_tiyn()
    RuleConfig.objects.filter(name="travel_rule").update(enabled=True)
    assert [travel_rule_required(threshold + d) for d in (-1, 0, 1, 10**9)] == [
        False, True, True, True,
    ]  # fmt: skip
    RuleConfig.objects.filter(name="travel_rule").update(enabled=False)
    assert not travel_rule_required(threshold + 10**9)


@pytest.mark.parametrize("field", ["beneficiary_name", "provider_name"])
def test_travel_rule_names_may_have_200_characters_not_201(field: str) -> None:
    data = {"beneficiary_name": "A", "wallet": "provider", "provider_name": "P"}
    assert travel_rule_validate({**data, field: "x" * 200})[field] == "x" * 200
    with pytest.raises(ValidationFailed) as refused:
        travel_rule_validate({**data, field: "x" * 201})
    assert refused.value.fields == {field: ["At most 200 characters."]}
