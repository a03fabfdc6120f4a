"""A stuck withdrawal batch is sped up by CPFP: paid once, booked once, four eyes above a bound."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import override_settings

from accounts.models import AccountKind, Transfer, User
from accounts.services import system_account
from compliance.errors import FourEyesViolation
from compliance.services import approval_approve
from core.errors import PermissionDenied
from custody.models import BatchStatus, FeeBump, FeeBumpStatus, WithdrawalStatus
from custody.services import (
    withdrawal_batch_broadcast,
    withdrawal_batch_confirm,
    withdrawal_batch_create,
    withdrawal_request,
)
from custody.services.fee_bumps import (
    fee_bump_request,
    fee_bumps_broadcast,
    fee_bumps_build,
    fee_bumps_confirm,
)
from tests.custody.conftest import Chain, refresh

# Its own hot wallet: coin selection must see only the coin funded here (a coin left by
# another test can make a changeless batch, which CPFP cannot bump).
pytestmark = [pytest.mark.node, pytest.mark.usefixtures("own_hot_wallet")]


@pytest.fixture
def bumper(make_user: Callable[..., User]) -> Callable[[], User]:
    def make() -> User:
        user = make_user(is_staff=True)
        user.user_permissions.add(Permission.objects.get(codename="bump_fee"))
        return User.objects.get(pk=user.pk)

    return make


def _builder_free() -> None:
    """Wait (blocking, 60 s at most) until no other session holds the hot-wallet builder lock.

    Builders skip a run when another is at work; a test that wants this run to build
    waits for the lock to be free, the event itself, rather than for some time.
    """
    from django.db import connection

    from custody.hotwallet.builder import BUILDER_LOCK_SPACE, hot_wallet_row

    wallet = hot_wallet_row()
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '60s'")
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [BUILDER_LOCK_SPACE, wallet.pk])
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [BUILDER_LOCK_SPACE, wallet.pk])
        cursor.execute("SET lock_timeout = 0")


def _stuck_batch(chain: Chain, funded_account: Any, hot_funded: Any) -> Any:
    hot_funded(10_000_000)
    account = funded_account(1_000_000)
    withdrawal_request(account=account, address=chain.new_funder_address(), amount_sats=100_000,
                       requested_by=account.owner, idempotency_key="stuck")  # fmt: skip
    batch = withdrawal_batch_create()
    assert batch is not None and withdrawal_batch_broadcast() == 1
    batch.refresh_from_db()
    assert batch.status == BatchStatus.BROADCAST
    return batch


def test_a_child_lifts_the_package_and_the_batch_pays_once(
    chain: Chain, funded_account: Any, hot_funded: Any, bumper: Callable[[], User]
) -> None:
    batch = _stuck_batch(chain, funded_account, hot_funded)
    target = batch.fee_rate_sat_vb + 20  # above what the batch pays, whatever the node chose
    bump = fee_bump_request(batch_id=batch.pk, fee_rate_sat_vb=target, actor=bumper(),
                            reason="stuck for hours")  # fmt: skip
    assert bump.status == FeeBumpStatus.APPROVED  # under the four-eyes bound
    _builder_free()
    assert fee_bumps_build() == 1, FeeBump.objects.values("status", "last_error").get(pk=bump.pk)
    assert fee_bumps_broadcast() == 1
    bump.refresh_from_db()
    entry = chain.client.call("getmempoolentry", batch.txid)
    assert entry["fees"]["descendant"] > entry["fees"]["base"]  # the package pays more
    package_rate = (batch.fee_sats + bump.fee_sats) / (batch.vsize + 110)
    assert package_rate >= target - 1  # the target, within the child's size estimate
    fees_before = system_account(AccountKind.FEES, "BTC").posted_minor
    chain.mine(1)
    assert withdrawal_batch_confirm() == 1 and fee_bumps_confirm() == 1
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CONFIRMED
    assert batch.txid == bump.inputs[0][0]  # the same batch: nothing was replaced
    assert list(batch.withdrawals.values_list("status", flat=True)) == [WithdrawalStatus.CONFIRMED]
    outputs = [amount for _, _, amount in chain.received_outputs(batch.withdrawals.get().address)]
    assert outputs == [100_000]  # paid exactly once
    fees_after = refresh(system_account(AccountKind.FEES, "BTC")).posted_minor
    earned = batch.withdrawals.get().fee_sats  # the bank's withdrawal fee, charged once
    assert fees_after - fees_before == earned - bump.fee_sats - batch.fee_sats
    assert Transfer.objects.filter(memo__startswith="CPFP miner fee").count() == 1
    call_command("ledger_check")


@pytest.mark.insider
@override_settings(FEE_BUMP_FOUR_EYES_SATS=1_000)
def test_a_big_bump_needs_a_second_person(
    chain: Chain, funded_account: Any, hot_funded: Any, bumper: Callable[[], User],
    make_user: Callable[..., User],
) -> None:  # fmt: skip
    batch = _stuck_batch(chain, funded_account, hot_funded)
    with pytest.raises(PermissionDenied):
        fee_bump_request(batch_id=batch.pk, fee_rate_sat_vb=batch.fee_rate_sat_vb + 50,
                         actor=make_user(is_staff=True),
                         reason="no permission")  # fmt: skip
    first, second = bumper(), bumper()
    bump = fee_bump_request(batch_id=batch.pk, fee_rate_sat_vb=batch.fee_rate_sat_vb + 50,
                            actor=first, reason="urgent")  # fmt: skip
    assert bump.status == FeeBumpStatus.REQUESTED
    assert fee_bumps_build() == 0  # nothing is built before the second person approves
    from compliance.models import ApprovalRequest

    proposal = ApprovalRequest.objects.get(action="batch_fee_bump", target_id=str(bump.pk))
    with pytest.raises(FourEyesViolation):
        approval_approve(actor=first, request_id=proposal.pk)
    approval_approve(actor=second, request_id=proposal.pk, reason="agreed")
    assert fee_bumps_build() == 1
    call_command("ledger_check")
