"""The treasury admin: every screen renders, and a cold move runs through it end to end."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from tests.compliance.conftest import otp_client
from tests.treasury.conftest import Treasury
from treasury.models import ColdDescriptor, ColdMove, ColdMoveStatus, ReconciliationRun
from treasury.services import cold_signer_sign

pytestmark = pytest.mark.node

CHANGELISTS = ["colddescriptor", "coldmove", "sweep", "rebalancealert", "reconciliationrun",
               "reservesnapshot"]  # fmt: skip


def _admin(make_user: Callable[..., User]) -> Client:
    user = make_user(is_staff=True, is_superuser=True)
    TOTPDevice.objects.create(user=user, name="admin", confirmed=True)
    return otp_client(user)


def _action(client: Client, action: str, move: ColdMove) -> None:
    url = reverse("admin:treasury_coldmove_changelist")
    response = client.post(url, {"action": action, "_selected_action": [move.pk], "reason": "ok"})
    assert response.status_code == 302


def test_cold_move_through_the_admin(treasury: Treasury, make_user: Callable[..., User]) -> None:
    t = treasury
    t.funder.send_to_address(str(t.cold.call("getnewaddress", "", "bech32")), 100_000_000)
    t.mine(1)
    requester, first, second = (_admin(make_user) for _ in range(3))
    for name in CHANGELISTS:
        page = requester.get(reverse(f"admin:treasury_{name}_changelist"))
        assert page.status_code == 200, name
    fingerprints = requester.get(reverse("admin:treasury_colddescriptor_changelist"))
    assert ColdDescriptor.objects.first().fingerprint in fingerprints.content.decode()  # type: ignore[union-attr]
    assert requester.get(reverse("admin:treasury_colddescriptor_import")).status_code == 200

    response = requester.post(reverse("admin:treasury_coldmove_request"),
                              {"amount_btc": "0.25", "reason": "refill"})  # fmt: skip
    assert response.status_code == 302
    move = ColdMove.objects.get()
    assert move.amount_sats == 25_000_000
    _action(requester, "approve", move)  # refused: the requester
    _action(first, "approve", move)
    _action(first, "approve", move)  # refused: twice
    move.refresh_from_db()
    assert move.status == ColdMoveStatus.APPROVING
    _action(second, "approve", move)  # second approval builds the PSBT
    move.refresh_from_db()
    assert move.status == ColdMoveStatus.PSBT_READY

    download = first.get(reverse("admin:treasury_coldmove_download", args=[move.pk]))
    assert download.status_code == 200
    signed = cold_signer_sign(psbt=download.content.decode())
    upload_url = reverse("admin:treasury_coldmove_upload", args=[move.pk])
    assert second.get(upload_url).status_code == 200
    upload = SimpleUploadedFile("signed.psbt", signed.encode())
    assert second.post(upload_url, {"psbt_file": upload}).status_code == 302
    move.refresh_from_db()
    assert move.status == ColdMoveStatus.BROADCAST and move.txid

    run = requester.post(reverse("admin:treasury_reconciliationrun_run"))
    assert run.status_code == 302 and ReconciliationRun.objects.count() == 1
    take = requester.post(reverse("admin:treasury_reservesnapshot_take"))
    assert take.status_code == 302


def test_descriptor_import_refuses_private_keys(
    treasury: Treasury, make_user: Callable[..., User]
) -> None:
    client = _admin(make_user)
    private = [d["desc"] for d in treasury.signer.call("listdescriptors", True)["descriptors"]
               if d["desc"].startswith("wpkh(")]  # fmt: skip
    before = ColdDescriptor.objects.count()
    response = client.post(reverse("admin:treasury_colddescriptor_import"),
                           {"descriptors": private[0], "range_end": 100})  # fmt: skip
    assert response.status_code == 200  # the form again, with the error
    assert ColdDescriptor.objects.count() == before
    assert not treasury.cold.call("getwalletinfo")["private_keys_enabled"]
