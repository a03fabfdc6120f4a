"""Fixtures for the web banking tests: customers, logged-in clients, 2FA codes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Account, User
from accounts.services.twofactor import totp_device_confirm, totp_device_start
from banking.services.signup import user_signup
from exchange.services import exchange_rate_set

PASSWORD = "Sunny-Almaty-2031"


@pytest.fixture(autouse=True)
def _web_settings(settings: Any, tmp_path: Path) -> None:
    """Uploads go to a temporary private folder; rate limits are lifted.

    Rate limits count per client address in Redis; tests that check them lower them.
    """
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.MEDIA_ROOT = settings.PRIVATE_MEDIA_ROOT
    settings.RATELIMIT_SIGNUP = "1000/m"
    settings.RATELIMIT_PASSWORD_RESET = "1000/m"
    settings.RATELIMIT_TRANSFER = "1000/m"


@pytest.fixture
def make_customer(db: None) -> Callable[..., User]:
    counter = {"n": 0}

    def make(email: str | None = None, *, verified: bool = True) -> User:
        counter["n"] += 1
        user = user_signup(email=email or f"cust{counter['n']}@example.kz", password=PASSWORD)
        if verified:
            user.email_verified_at = timezone.now()
            user.save(update_fields=["email_verified_at"])
        return user

    return make


@pytest.fixture
def customer(make_customer: Callable[..., User]) -> User:
    return make_customer("aigerim@example.kz")


def login(client: Client, user: User) -> Client:
    """Log a client in through the login page, like a browser (2FA step included)."""
    response = client.post("/login/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    if response["Location"].endswith("/login/verify/"):
        response = client.post("/login/verify/", {"otp_code": otp_code(user)})
        assert response.status_code == 302
    return client


@pytest.fixture
def customer_client(customer: User) -> Client:
    return login(Client(), customer)


def otp_code(user: User) -> str:
    """Return the user's current TOTP code, as if the last one was used a step ago.

    A code works once: the device remembers the last 30-second step it accepted.
    Tests log in several times within one step, so this forgets that step (and
    only that: a throttled device stays throttled; see ``otp_lockout_elapse``).
    ``test_security`` proves reuse and throttling with codes taken without it.
    """
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
    return current_code(device)


def current_code(device: TOTPDevice) -> str:
    """The code the user's app shows now (no change to the device)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def otp_lockout_elapse(user: User) -> None:
    """Move the device's last failure an hour back: its lockout is over, its count kept."""
    TOTPDevice.objects.filter(user=user, confirmed=True).update(
        throttling_failure_timestamp=timezone.now() - timedelta(hours=1)
    )


def enable_2fa(user: User) -> list[str]:
    """Turn on TOTP for a user the way the set-up page does; return the backup codes."""
    device = totp_device_start(user=user)
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    return totp_device_confirm(user=user, device_id=device.pk, code=code)


def account_of(user: User, currency: str) -> Account:
    return Account.objects.get(owner=user, kind="customer", currency=currency)


@pytest.fixture
def rate(db: None) -> Any:
    staff = User.objects.create_user(email="dealer@alatau.kz", password=PASSWORD, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="add_exchangerate"))
    staff = User.objects.get(pk=staff.pk)  # fresh: no cached permissions
    # 1 BTC = 45 000 000.00 KZT mid, 1% spread each side.
    return exchange_rate_set(mid_tiyn_per_btc=45_000_000_00, spread_bp=100, actor=staff)


def streamed(response: Any) -> bytes:
    """The whole body of a streamed download (statements stream their CSV and PDF)."""
    assert response.streaming, "the download should stream"
    return b"".join(response.streaming_content)
