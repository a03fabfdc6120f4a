"""Sign up, email confirmation, login (throttled), logout, password reset, rate limits."""

from __future__ import annotations

import re
import time
from typing import Any

import django_ratelimit.core
import pytest
from django.core import mail
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Account, Identity, User
from audit.models import AuditEvent
from banking.services.signup import user_signup
from core.errors import ValidationFailed
from tests.banking.conftest import PASSWORD, login
from tests.conftest import run_threads


def _link(body: str) -> str:
    match = re.search(r"https?://[^/\s]+(/\S+)", body)
    assert match, body
    return match.group(1)


@pytest.mark.django_db
def test_signup_opens_btc_and_kzt_accounts_and_mails_a_confirmation_link(
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/signup/",
            {"email": "Dana@Example.KZ", "password1": PASSWORD, "password2": PASSWORD},
        )
    assert response.status_code == 302
    assert response["Location"] == "/signup/done/"
    user = User.objects.get(email="dana@example.kz")
    assert user.password.startswith("md5$")  # test hasher; production uses argon2
    assert sorted(Account.objects.filter(owner=user).values_list("currency", flat=True)) == [
        "BTC",
        "KZT",
    ]
    assert Identity.objects.filter(user=user, status="none").exists()
    assert AuditEvent.objects.filter(action="user.signup").count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dana@example.kz"]
    link = _link(str(mail.outbox[0].body))

    # The link page asks for a click (mail scanners may open links); POST confirms.
    assert client.get(link).status_code == 200
    user.refresh_from_db()
    assert user.email_verified_at is None
    response = client.post(link)
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email_verified_at is not None
    # Opening the link again is harmless; a tampered token is refused.
    assert client.post(link).status_code == 302
    other = User.objects.create_user(email="x@example.kz", password=PASSWORD)
    uid = urlsafe_base64_encode(force_bytes(other.pk))
    assert Client().post(f"/confirm-email/{uid}/bad-token/").status_code == 400
    other.refresh_from_db()
    assert other.email_verified_at is None


@pytest.mark.django_db
def test_confirmation_link_of_one_user_does_not_confirm_another(
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/signup/", {"email": "a@example.kz", "password1": PASSWORD, "password2": PASSWORD}
        )
    token = _link(str(mail.outbox[0].body)).rstrip("/").rsplit("/", 1)[1]
    other = User.objects.create_user(email="b@example.kz", password=PASSWORD)
    uid = urlsafe_base64_encode(force_bytes(other.pk))
    response = Client().post(f"/confirm-email/{uid}/{token}/")
    assert response.status_code == 400
    assert b"not valid" in response.content
    other.refresh_from_db()
    assert other.email_verified_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        (
            {"email": "x@example.kz", "password1": "short", "password2": "short"},
            "password1",
            "too short",
        ),
        (
            {"email": "x@example.kz", "password1": "1234567890123", "password2": "1234567890123"},
            "password1",
            "entirely numeric",
        ),
        (
            {"email": "x@example.kz", "password1": "password123", "password2": "password123"},
            "password1",
            "too common",
        ),
        (
            {"email": "x@example.kz", "password1": PASSWORD, "password2": PASSWORD + "x"},
            "password2",
            "different",
        ),
        (
            {"email": "not-an-email", "password1": PASSWORD, "password2": PASSWORD},
            "email",
            "valid email",
        ),
    ],
)
def test_signup_errors_are_shown_next_to_the_field(
    data: dict[str, str], field: str, text: str
) -> None:
    response = Client().post("/signup/", data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert text in " ".join(errors[field])
    assert text in response.content.decode()
    assert not User.objects.filter(email="x@example.kz").exists()


def test_signup_does_not_reveal_a_registered_email(
    customer: User, django_capture_on_commit_callbacks: Any
) -> None:
    new, taken = Client(), Client()
    with django_capture_on_commit_callbacks(execute=True):
        fresh = new.post(
            "/signup/", {"email": "fresh@example.kz", "password1": PASSWORD, "password2": PASSWORD}
        )
        again = taken.post(
            "/signup/",
            {"email": "AIGERIM@example.kz", "password1": PASSWORD, "password2": PASSWORD},
        )
    # The same answer for both: a redirect to "check your email", nobody logged in.
    assert fresh.status_code == again.status_code == 302
    assert fresh["Location"] == again["Location"] == "/signup/done/"
    token = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    page_new = new.get("/signup/done/").content.decode().replace("fresh@example.kz", "@")
    page_taken = taken.get("/signup/done/").content.decode().replace("aigerim@example.kz", "@")
    assert token.sub("", page_new) == token.sub("", page_taken)
    assert new.get("/").status_code == taken.get("/").status_code == 302
    assert User.objects.filter(email__iexact="aigerim@example.kz").count() == 1
    # The owner of the registered address is told by mail, without a confirmation link.
    notice = [m for m in mail.outbox if m.to == ["aigerim@example.kz"]]
    assert len(notice) == 1
    assert "already has one" in str(notice[0].body) and "confirm-email" not in str(notice[0].body)


class RateClock:
    """django-ratelimit's clock, held still: its fixed windows cannot roll over mid-test."""

    def __init__(self) -> None:
        self.now = int(time.time())

    def time(self) -> int:
        return self.now


@pytest.fixture
def rate_clock(monkeypatch: pytest.MonkeyPatch) -> RateClock:
    clock = RateClock()
    monkeypatch.setattr(django_ratelimit.core, "time", clock)
    return clock


def test_signup_is_rate_limited(db: None, settings: Any, rate_clock: RateClock) -> None:
    settings.RATELIMIT_SIGNUP = "2/m"
    client = Client(REMOTE_ADDR="10.9.8.1")
    for i in range(2):
        client.post("/signup/", {"email": f"r{i}@example.kz", "password1": "x", "password2": "y"})
    response = client.post(
        "/signup/", {"email": "r9@example.kz", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 429
    assert not User.objects.filter(email="r9@example.kz").exists()
    assert Client(REMOTE_ADDR="10.9.8.2").get("/signup/").status_code == 200
    rate_clock.now += 120  # the next window: the address may try again
    response = client.post(
        "/signup/", {"email": "r9@example.kz", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302


def test_login_and_logout(customer: User) -> None:
    client = Client()
    page = client.get("/login/")
    assert page.status_code == 200
    assert b'for="id_email"' in page.content
    response = client.post("/login/", {"email": customer.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get("/logout/").status_code == 405  # logout is a POST (CSRF-protected)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert client.get("/")["Location"].startswith("/login/")


def test_wrong_password_shows_an_error(customer: User) -> None:
    response = Client().post("/login/", {"email": customer.email, "password": "wrong-password"})
    assert response.status_code == 200
    assert "correct email" in response.content.decode()


def test_login_returns_to_next_but_only_locally(customer: User) -> None:
    client = Client()
    response = client.post(
        "/login/?next=/checkout/inv_123/",
        {"email": customer.email, "password": PASSWORD, "next": "/checkout/inv_123/"},
    )
    assert response["Location"] == "/checkout/inv_123/"
    client.post("/logout/")
    response = client.post(
        "/login/", {"email": customer.email, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_anonymous_pages_redirect_to_login_with_next(db: None) -> None:
    response = Client().get("/statement/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/statement/"
    # The login page carries next into its form.
    page = Client().get("/login/?next=/checkout/inv_9/")
    assert b'value="/checkout/inv_9/"' in page.content


def test_brute_force_login_is_locked_out(customer: User, settings: Any) -> None:
    client = Client(REMOTE_ADDR="10.1.1.1")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post("/login/", {"email": customer.email, "password": "nope-nope-1"})
        assert response.status_code == 200
    response = client.post("/login/", {"email": customer.email, "password": "nope-nope-1"})
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    # Even the right password is refused while locked.
    response = client.post("/login/", {"email": customer.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_password_reset_flow(customer: User) -> None:
    client = Client()
    response = client.post("/password-reset/", {"email": customer.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = _link(str(mail.outbox[0].body))
    response = client.get(link)
    assert response.status_code == 302  # Django swaps the token into the session
    form_url = response["Location"]
    new = "Another-Long-Secret-77"
    response = client.post(form_url, {"new_password1": new, "new_password2": new})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.check_password(new)


def test_password_reset_for_unknown_email_sends_nothing_and_looks_the_same(db: None) -> None:
    response = Client().post("/password-reset/", {"email": "nobody@example.kz"})
    assert response.status_code == 302
    assert len(mail.outbox) == 0


def test_password_reset_is_rate_limited(
    customer: User, settings: Any, rate_clock: RateClock
) -> None:
    settings.RATELIMIT_PASSWORD_RESET = "1/m"
    client = Client(REMOTE_ADDR="10.2.2.2")
    assert client.post("/password-reset/", {"email": customer.email}).status_code == 302
    assert client.post("/password-reset/", {"email": customer.email}).status_code == 429
    assert len(mail.outbox) == 1


def test_csrf_is_enforced_on_posts(customer: User) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"email": customer.email, "password": PASSWORD})
    assert response.status_code == 403
    client = login(Client(enforce_csrf_checks=False), customer)
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = client.cookies
    assert strict.post("/logout/").status_code == 403


def test_staff_have_no_customer_pages(db: None) -> None:
    officer = User.objects.create_user(email="officer@alatau.kz", password=PASSWORD, is_staff=True)
    client = Client()
    client.force_login(officer)
    for url in ("/", "/statement/", "/transfers/new/", "/exchange/", "/identity/", "/security/"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"staff account" in response.content


def test_unconfirmed_email_cannot_move_money(
    make_customer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user = make_customer("new@example.kz", verified=False)
    client = login(Client(), user)
    assert client.get("/").status_code == 200
    for url in ("/transfers/new/", "/exchange/"):
        response = client.get(url)
        assert response.status_code == 403
        assert b"Confirm your email" in response.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/confirm-email/resend/")
    assert response.status_code == 302
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_signups_with_one_email_make_one_customer() -> None:
    emails = ["same@example.kz", "Same@Example.kz", " SAME@example.kz "]

    def signup(i: int) -> User:
        return user_signup(email=emails[i % len(emails)], password=PASSWORD)

    results = run_threads(8, signup)
    made = [r for r in results if isinstance(r, User)]
    refused = [r for r in results if not isinstance(r, User)]
    assert len(made) == 1, results
    assert all(isinstance(r, ValidationFailed) and "email" in r.fields for r in refused), refused
    user = User.objects.get(email__iexact="same@example.kz")
    assert user.pk == made[0].pk
    assert Account.objects.filter(owner=user).count() == 2  # one BTC, one KZT: no half signup
    assert Identity.objects.filter(user=user).count() == 1
