"""Each screening rule fires on its edge value and not just below it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from itertools import count

import pytest
from django.utils import timezone

from accounts.models import User
from compliance.models import RuleConfig, SanctionedAddress
from compliance.rules import BLOCK, REVIEW, Movement
from compliance.rules.base import RULES
from compliance.services.screening import movement_screen, rules_evaluate
from tests.compliance.conftest import regtest_address

pytestmark = pytest.mark.django_db

_ids = count(1)


def movement(
    user: User,
    amount_kzt_tiyn: int,
    *,
    address: str = "",
    kind: str = "withdrawal",
    at_offset: timedelta = timedelta(0),
) -> Movement:
    return Movement(
        user=user,
        kind=kind,
        subject_type="test.movement",
        subject_id=str(next(_ids)),
        amount_minor=amount_kzt_tiyn,
        currency="KZT",
        amount_kzt_tiyn=amount_kzt_tiyn,
        at=timezone.now() + at_offset,
        address=address,
    )


def only(rule: str, **params: int) -> None:
    """Enable only ``rule`` with ``params`` so each test sees one rule at a time."""
    RuleConfig.objects.filter(name__in=list(RULES)).update(enabled=False)
    row = RuleConfig.objects.get(name=rule)
    row.enabled = True
    row.params = {**row.params, **params}
    row.save()


def fired(m: Movement) -> list[str]:
    return [f.rule for f in rules_evaluate(m)]


def record(m: Movement) -> None:
    movement_screen(movement=m, subject=m.user)


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user()


def test_large_amount_edge(user: User) -> None:
    only("large_amount", threshold_tiyn=1_000_00)
    assert fired(movement(user, 1_000_00)) == ["large_amount"]
    assert fired(movement(user, 1_000_00 - 1)) == []
    finding = rules_evaluate(movement(user, 5_000_00))[0]
    assert finding.action == REVIEW
    assert finding.figures == {"amount_kzt_tiyn": 5_000_00, "threshold_tiyn": 1_000_00}


def test_velocity_count_edge(user: User) -> None:
    only("velocity", count_min=3, sum_tiyn_min=10**12, window_minutes=60)
    record(movement(user, 100))
    assert fired(movement(user, 100)) == []  # the 2nd in the window
    record(movement(user, 100))
    assert fired(movement(user, 100)) == ["velocity"]  # the 3rd


def test_velocity_sum_edge_and_window(user: User) -> None:
    only("velocity", count_min=100, sum_tiyn_min=1_000, window_minutes=60)
    record(movement(user, 600))
    assert fired(movement(user, 399)) == []
    assert fired(movement(user, 400)) == ["velocity"]
    # Outside the window, the earlier movement no longer counts.
    assert fired(movement(user, 400, at_offset=timedelta(minutes=61))) == []


def test_first_address(user: User) -> None:
    only("first_address", min_amount_tiyn=500)
    address = regtest_address(1)
    assert fired(movement(user, 499, address=address)) == []
    first = movement(user, 500, address=address)
    assert fired(first) == ["first_address"]
    record(first)
    assert fired(movement(user, 500, address=address)) == []
    assert fired(movement(user, 500, address=regtest_address(2))) == ["first_address"]
    # Transfers inside the bank have no address: the rule does not apply.
    assert fired(movement(user, 500, kind="transfer")) == []


def test_sanctioned_address_blocks(user: User) -> None:
    only("sanctioned_address")
    bad, good = regtest_address(66), regtest_address(67)
    SanctionedAddress.objects.create(address=bad, source="test list")
    findings = rules_evaluate(movement(user, 1, address=bad))
    assert [(f.rule, f.action) for f in findings] == [("sanctioned_address", BLOCK)]
    assert fired(movement(user, 1, address=good)) == []
    # Bech32 is case-insensitive: an upper-case spelling is the same address.
    assert fired(movement(user, 1, address=bad.upper())) == ["sanctioned_address"]
    SanctionedAddress.objects.filter(address=bad).update(active=False)
    assert fired(movement(user, 1, address=bad)) == []


def test_structuring_band_and_count(user: User) -> None:
    only("structuring", threshold_tiyn=1_000, margin_tiyn=100, window_minutes=60, count_min=3)
    record(movement(user, 900))  # at the band's low edge: inside
    record(movement(user, 999))  # just below the threshold: inside
    assert fired(movement(user, 950)) == ["structuring"]  # the 3rd in the band
    assert fired(movement(user, 899)) == []  # just below the band
    assert fired(movement(user, 1_000)) == []  # at the threshold: not "just below"


def test_structuring_needs_count_min(user: User) -> None:
    only("structuring", threshold_tiyn=1_000, margin_tiyn=100, window_minutes=60, count_min=3)
    record(movement(user, 950))
    assert fired(movement(user, 950)) == []  # only the 2nd


def test_dormant_edge(user: User) -> None:
    only("dormant", inactive_days=30, min_amount_tiyn=0)
    User.objects.filter(pk=user.pk).update(
        date_joined=timezone.now() - timedelta(days=29, hours=23)
    )
    user.refresh_from_db()
    assert fired(movement(user, 1)) == []
    User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=30))
    user.refresh_from_db()
    assert fired(movement(user, 1)) == ["dormant"]
    # Recent activity wakes the account up.
    record(movement(user, 1, at_offset=timedelta(days=-1)))
    assert fired(movement(user, 1)) == []


def test_disabled_rule_does_not_fire(user: User) -> None:
    only("large_amount", threshold_tiyn=1)
    RuleConfig.objects.filter(name="large_amount").update(enabled=False)
    assert fired(movement(user, 10**9)) == []


def test_screening_records_once_and_opens_case(user: User) -> None:
    only("large_amount", threshold_tiyn=10)
    m = movement(user, 10)
    first = movement_screen(movement=m, subject=user)
    assert first.decision == REVIEW and first.case_id is not None
    again = movement_screen(movement=m, subject=user)
    assert again == first
