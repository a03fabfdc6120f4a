"""Cold descriptors are pinned by four eyes; nothing is swept to keys nobody approved."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings

from accounts.selectors import ledger_check
from compliance.errors import FourEyesViolation
from compliance.services import approval_approve
from core.errors import PermissionDenied
from custody.node import node_client
from custody.services import wallet_load_or_create
from tests.treasury.conftest import Treasury
from treasury.errors import DescriptorUnapproved
from treasury.models import ColdDescriptor, Sweep
from treasury.services import cold_descriptors_propose, reconcile, treasury_rebalance

pytestmark = [pytest.mark.node, pytest.mark.insider]

BTC = 100_000_000


def _rogue_descriptors() -> list[str]:
    """Public descriptors of keys the bank never saw: an insider's own wallet."""
    name = f"rogue-{uuid.uuid4().hex[:8]}"
    wallet_load_or_create(client=node_client(), name=name)
    reply = node_client().wallet(name).call("listdescriptors")
    return [str(d["desc"]) for d in reply["descriptors"] if str(d["desc"]).startswith("wpkh(")]


def test_one_operator_cannot_pin_descriptors_alone(
    treasury: Treasury, custody_staff: Callable[..., Any], make_user: Callable[..., Any]
) -> None:
    first, second = custody_staff(), custody_staff()
    rogue = _rogue_descriptors()
    before = ColdDescriptor.objects.count()
    with pytest.raises(PermissionDenied):  # no custody permission, no proposal
        cold_descriptors_propose(descriptors=rogue, actor=make_user(is_staff=True))
    proposal = cold_descriptors_propose(descriptors=rogue, actor=first)
    assert proposal.params["fingerprints"]  # what both people see before they approve
    assert ColdDescriptor.objects.count() == before  # a proposal pins nothing
    with pytest.raises(FourEyesViolation):
        approval_approve(actor=first, request_id=proposal.pk)
    assert ColdDescriptor.objects.count() == before
    approval_approve(actor=second, request_id=proposal.pk, reason="fingerprints checked")
    pinned = ColdDescriptor.objects.filter(approval=proposal)
    assert pinned.count() == len(rogue)
    assert {d.approved_by_id for d in pinned} == {second.pk}
    assert {d.imported_by_id for d in pinned} == {first.pk}


@override_settings(HOT_WALLET_MAX_SATS=BTC // 2, HOT_WALLET_MIN_SATS=BTC // 5)
def test_a_descriptor_slipped_into_the_node_gets_no_sweep_and_is_flagged(
    treasury: Treasury, funded_account: Callable[..., Any]
) -> None:
    t = treasury
    t.deposit(funded_account(), 2 * BTC)
    # An operator with node access imports their own keys as the active receive branch.
    request = [{"desc": d, "active": True, "internal": "/1/*" in d, "range": [0, 50],
                "timestamp": "now"} for d in _rogue_descriptors()]  # fmt: skip
    assert all(r["success"] for r in t.cold.call("importdescriptors", request))
    with pytest.raises(DescriptorUnapproved):
        treasury_rebalance()
    assert not Sweep.objects.exists()  # not a satoshi left the hot wallet
    assert reconcile(trigger="test").status == "ok"
    # Coins on the rogue keys are not the bank's: reconciliation flags them, not counts them.
    rogue_address = str(t.cold.call("getnewaddress", "", "bech32"))
    t.funder.send_to_address(rogue_address, 10_000_000)
    t.mine(1)
    run = reconcile(trigger="test")
    assert run.status == "mismatch"
    flagged = [d for d in run.differences if d["figure"] == "cold_unapproved_descriptor"]
    assert flagged and flagged[0]["coins_sats"] == 10_000_000
    assert rogue_address in flagged[0]["addresses"]
    assert ledger_check() == []
