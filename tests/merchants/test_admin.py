"""Staff onboard merchants from the admin (through the service) and read the rest."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from audit.models import AuditEvent
from merchants.models import Merchant

pytestmark = pytest.mark.django_db


def admin_client(user: User) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    device = TOTPDevice.objects.create(user=user, name="admin", confirmed=True)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


def test_admin_onboards_through_the_service(make_user: Callable[..., User]) -> None:
    staff = make_user(is_staff=True, is_superuser=True)
    owner = make_user()
    client = admin_client(staff)
    response = client.post(
        "/admin/merchants/merchant/add/", {"name": "Tea House", "owner": owner.pk, "with_kzt": "on"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    merchant = Merchant.objects.get(owner=owner)
    assert merchant.btc_account.kind == "merchant" and merchant.kzt_account is not None
    assert AuditEvent.objects.filter(action="merchant.onboard", actor_id=staff.pk).exists()
    page = client.get(f"/admin/merchants/merchant/{merchant.pk}/change/")
    assert page.status_code == 200 and merchant.store_id in page.content.decode()
    assert client.get("/admin/merchants/invoice/").status_code == 200
    assert client.get("/admin/merchants/apikey/").status_code == 200


def test_admin_suspends_and_reactivates(make_user: Callable[..., User]) -> None:
    from merchants.services.merchants import merchant_onboard

    staff = make_user(is_staff=True, is_superuser=True)
    merchant = merchant_onboard(name="Shop", owner=make_user(), actor=None)
    client = admin_client(staff)
    url = "/admin/merchants/merchant/"
    client.post(url, {"action": "suspend", "_selected_action": [merchant.pk]})
    merchant.refresh_from_db()
    assert merchant.status == "suspended"
    client.post(url, {"action": "reactivate", "_selected_action": [merchant.pk]})
    merchant.refresh_from_db()
    assert merchant.status == "active"
