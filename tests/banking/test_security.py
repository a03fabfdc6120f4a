"""Two-factor set-up, login with a code, backup codes, re-authentication, sessions."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.sessions.models import Session
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User, UserSession
from audit.models import AuditEvent
from tests.banking.conftest import (
    PASSWORD,
    current_code,
    enable_2fa,
    login,
    otp_code,
    otp_lockout_elapse,
)


def test_totp_setup_shows_an_inline_qr_and_confirms_with_a_code(
    customer_client: Client, customer: User
) -> None:
    page = customer_client.get("/security/2fa/setup/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "otpauth" not in html.split("<svg")[0][-200:]
    device = TOTPDevice.objects.get(user=customer, confirmed=False)
    # The manual-entry key shown is the device's key.
    shown = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', html)
    assert shown
    # A wrong code is refused next to the field.
    response = customer_client.post("/security/2fa/setup/", {"otp_code": "000000"})
    assert response.status_code == 200
    assert "not valid" in " ".join(response.context["form"].errors["otp_code"])
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    response = customer_client.post("/security/2fa/setup/", {"otp_code": code})
    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == 10
    for c in codes:
        assert c in response.content.decode()
    device.refresh_from_db()
    assert device.confirmed
    assert StaticToken.objects.filter(device__user=customer).count() == 10
    assert AuditEvent.objects.filter(action="2fa.enable").exists()
    # Codes are shown once: the security page only counts them.
    page = customer_client.get("/security/")
    assert codes[0] not in page.content.decode()
    assert "10 backup codes left" in page.content.decode()


def test_login_needs_the_second_factor(customer: User) -> None:
    enable_2fa(customer)
    client = Client()
    response = client.post("/login/", {"email": customer.email, "password": PASSWORD})
    assert response["Location"] == "/login/verify/"
    # Not logged in yet.
    assert client.get("/")["Location"].startswith("/login/")
    # The verify page still works (not logged in) and refuses a wrong code.
    response = client.post("/login/verify/", {"otp_code": "123456"})
    assert response.status_code == 200
    assert "not valid" in response.content.decode()
    otp_lockout_elapse(customer)  # the failure throttles the device (tested below)
    response = client.post("/login/verify/", {"otp_code": otp_code(customer)})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def _verify(user: User, code: str) -> int:
    """Log in with the password, then answer the code step; return the verify status."""
    client = Client()
    assert client.post("/login/", {"email": user.email, "password": PASSWORD}).status_code == 302
    return client.post("/login/verify/", {"otp_code": code}).status_code


def test_an_app_code_works_once(customer: User) -> None:
    enable_2fa(customer)
    code = otp_code(customer)
    assert _verify(customer, code) == 302
    # Replayed (a shoulder-surfed or phished code), within its step or the next: refused.
    assert _verify(customer, code) == 200
    device = TOTPDevice.objects.get(user=customer)
    assert _verify(customer, current_code(device)) == 200  # same step, same code: refused
    device.refresh_from_db()
    assert device.throttling_failure_count >= 1  # a replay counts as a failure


def test_failed_codes_throttle_the_device(customer: User, settings: Any) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 60  # locked 60 s, doubling: no race with the clock
    enable_2fa(customer)
    assert _verify(customer, "000000") == 200
    device = TOTPDevice.objects.get(user=customer)
    assert device.throttling_failure_count == 1
    code = otp_code(customer)
    assert _verify(customer, code) == 200  # the right code, refused while locked out
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # locked attempts are not even tried
    otp_lockout_elapse(customer)
    assert _verify(customer, "000001" if code != "000001" else "000002") == 200
    device.refresh_from_db()
    assert device.throttling_failure_count == 2  # failures add up: the lockout doubles
    otp_lockout_elapse(customer)
    assert _verify(customer, otp_code(customer)) == 302
    device.refresh_from_db()
    assert device.throttling_failure_count == 0  # a success clears the count


def test_backup_code_logs_in_once(customer: User) -> None:
    codes = enable_2fa(customer)
    for expected in (302, 200):
        client = Client()
        client.post("/login/", {"email": customer.email, "password": PASSWORD})
        response = client.post("/login/verify/", {"otp_code": codes[0]})
        assert response.status_code == expected


def test_verify_step_without_password_step_goes_back_to_login(db: None) -> None:
    response = Client().post("/login/verify/", {"otp_code": "123456"})
    assert response["Location"] == "/login/"


def test_new_backup_codes_need_the_password(customer: User) -> None:
    old = enable_2fa(customer)
    client = login(Client(), customer)
    response = client.post("/security/2fa/backup-codes/", {"password": "wrong"})
    assert response.status_code == 200
    assert "not correct" in " ".join(response.context["form"].errors["password"])
    response = client.post("/security/2fa/backup-codes/", {"password": PASSWORD})
    new = response.context["codes"]
    assert set(new).isdisjoint(old)
    tokens = set(StaticToken.objects.filter(device__user=customer).values_list("token", flat=True))
    assert tokens == set(new)


def test_disabling_2fa_needs_password_and_code(customer: User) -> None:
    enable_2fa(customer)
    client = login(Client(), customer)
    response = client.post("/security/2fa/disable/", {"password": PASSWORD, "otp_code": "000000"})
    assert response.status_code == 200
    assert TOTPDevice.objects.filter(user=customer).exists()
    otp_lockout_elapse(customer)  # the wrong code above locked the device
    response = client.post(
        "/security/2fa/disable/", {"password": "nope", "otp_code": otp_code(customer)}
    )
    assert TOTPDevice.objects.filter(user=customer).exists()
    response = client.post(
        "/security/2fa/disable/", {"password": PASSWORD, "otp_code": otp_code(customer)}
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=customer).exists()


def test_sessions_are_listed_and_can_be_ended(customer: User) -> None:
    laptop = Client(HTTP_USER_AGENT="Laptop Firefox", REMOTE_ADDR="10.0.0.5")
    phone = Client(HTTP_USER_AGENT="Phone Safari", REMOTE_ADDR="10.0.0.6")
    login(laptop, customer)
    login(phone, customer)
    page = laptop.get("/security/")
    html = page.content.decode()
    assert "Laptop Firefox" in html and "Phone Safari" in html and "10.0.0.6" in html
    phone_session = UserSession.objects.get(user=customer, user_agent="Phone Safari")
    response = laptop.post(f"/security/sessions/{phone_session.pk}/end/")
    assert response.status_code == 302
    assert not Session.objects.filter(session_key=phone_session.session_key).exists()
    # The phone is signed out at its next request.
    assert phone.get("/")["Location"].startswith("/login/")
    assert laptop.get("/").status_code == 200


def test_another_customers_session_cannot_be_ended(customer: User, make_customer: Any) -> None:
    other = make_customer()
    other_client = login(Client(), other)
    mine = login(Client(), customer)
    their = UserSession.objects.get(user=other)
    assert mine.post(f"/security/sessions/{their.pk}/end/").status_code == 404
    assert Session.objects.filter(session_key=their.session_key).exists()
    assert other_client.get("/").status_code == 200


def test_end_all_other_sessions(customer: User) -> None:
    clients = [login(Client(), customer) for _ in range(3)]
    clients[0].post("/security/sessions/end-others/")
    assert clients[0].get("/").status_code == 200
    assert clients[1].get("/").status_code == 302
    assert clients[2].get("/").status_code == 302


def test_password_change_keeps_this_session_and_ends_others(customer: User) -> None:
    here, there = login(Client(), customer), login(Client(), customer)
    new = "Brand-New-Secret-2032"
    response = here.post(
        "/security/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert here.get("/").status_code == 200
    assert there.get("/").status_code == 302
    assert here.get("/security/").status_code == 200
    assert UserSession.objects.filter(user=customer).count() >= 1


def test_login_with_2fa_returns_to_the_checkout_page(customer: User) -> None:
    enable_2fa(customer)
    client = Client()
    response = client.post(
        "/login/?next=/i/inv_42",
        {"email": customer.email, "password": PASSWORD, "next": "/i/inv_42"},
    )
    assert response["Location"] == "/login/verify/"
    response = client.post("/login/verify/", {"otp_code": otp_code(customer)})
    assert response["Location"] == "/i/inv_42"
