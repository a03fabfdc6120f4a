"""The staff admin login: a valid code works on the first submit, a wrong one is refused."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from compliance.roles import COMPLIANCE_OFFICER

PASSWORD = "Staff-Login-2031"


def _code(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def _officer(staff: Callable[..., User]) -> User:
    officer = staff(COMPLIANCE_OFFICER)
    officer.set_password(PASSWORD)
    officer.save(update_fields=["password"])
    return officer


def _login(officer: User, token: str) -> tuple[Client, int, str]:
    client = Client()
    response = client.post(
        reverse("admin:login"),
        {"username": officer.email, "password": PASSWORD, "otp_token": token, "next": "/admin/"},
    )
    return client, response.status_code, response.content.decode()


def test_a_valid_code_logs_in_on_the_first_try(staff: Callable[..., User]) -> None:
    officer = _officer(staff)
    device = TOTPDevice.objects.get(user=officer)
    client, status, body = _login(officer, _code(device))
    assert status == 302, body
    assert "select a device" not in body
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_wrong_code_is_refused(staff: Callable[..., User]) -> None:
    officer = _officer(staff)
    correct = _code(TOTPDevice.objects.get(user=officer))
    wrong = f"{(int(correct) + 1) % 1_000_000:06d}"
    client, status, _body = _login(officer, wrong)
    assert status == 200
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_backup_code_goes_to_the_backup_device(staff: Callable[..., User]) -> None:
    officer = _officer(staff)
    backup = StaticDevice.objects.create(user=officer, name="backup", confirmed=True)
    StaticToken.objects.create(device=backup, token="abcd1234")
    _client, status, body = _login(officer, "abcd1234")
    assert status == 302, body
    assert not StaticToken.objects.filter(device=backup).exists()  # used once
