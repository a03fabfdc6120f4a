"""Compliance fixtures: staff members in each role with a TOTP device, admin clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from embit import bech32

from accounts.models import Account, User
from compliance.defaults import defaults_setup
from compliance.roles import AUDITOR, COMPLIANCE_OFFICER, CUSTODY_OPERATOR, SUPPORT, roles_sync
from custody.models import Withdrawal
from custody.services.withdrawals import withdrawal_request

ROLES = (COMPLIANCE_OFFICER, CUSTODY_OPERATOR, SUPPORT, AUDITOR)
BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture(autouse=True)
def _roles_and_defaults(db: None) -> None:
    # Transactional tests flush the groups and rule rows the migration made.
    roles_sync()
    defaults_setup()


@pytest.fixture
def staff(make_user: Callable[..., User]) -> Callable[..., User]:
    """Make an active staff member in ``role`` (a group name) with a confirmed TOTP device."""

    def make(role: str | None = None, **extra: Any) -> User:
        user = make_user(is_staff=True, **extra)
        if role:
            user.groups.add(Group.objects.get(name=role))
        TOTPDevice.objects.create(user=user, name="admin", confirmed=True)
        return User.objects.get(pk=user.pk)  # fresh: no cached permissions

    return make


def otp_client(user: User) -> Client:
    """Return a test client signed in as ``user`` and verified by their OTP device."""
    client = Client()
    client.force_login(user, backend=BACKEND)
    device = TOTPDevice.objects.filter(user=user).first()
    assert device is not None
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


def regtest_address(n: int) -> str:
    """A valid regtest P2WPKH address, different for each ``n``."""
    address = bech32.encode("bcrt", 0, n.to_bytes(20, "big"))
    assert address is not None
    return address


@pytest.fixture
def customer_btc(funded_account: Callable[..., Account]) -> Callable[..., Account]:
    """A customer BTC account with KYC tier 1 and ``amount`` sats."""

    def make(amount_sats: int = 10 * 100_000_000, tier: int = 1) -> Account:
        account = funded_account(amount_sats, "BTC")
        if tier:
            from accounts.models import Identity

            assert account.owner is not None
            Identity.objects.create(
                user=account.owner, full_name="Test Customer", status="approved", tier=tier
            )
        return account

    return make


def request_withdrawal(
    account: Account, amount_sats: int, address: str, travel_rule: dict[str, Any] | None = None
) -> Withdrawal:
    key = f"w-{account.pk}-{amount_sats}-{address[-8:]}"
    return withdrawal_request(
        account=account,
        address=address,
        amount_sats=amount_sats,
        requested_by=account.owner,
        idempotency_key=key,
        travel_rule=travel_rule,
    )
