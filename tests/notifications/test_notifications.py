"""Notifications: collected once from what the layers below recorded, emailed in the
customer's language without secrets, listed in the app."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import Identity, User, UserSession
from accounts.services import account_freeze
from accounts.services.transfers import transfer_create
from compliance.services import identity_approve
from custody.services.withdrawal_addresses import withdrawal_address_add
from notifications.models import CustomerLanguage, Notification, NotificationKind
from notifications.tasks import notifications_collect
from tests.banking.conftest import account_of, enable_2fa, login, otp_code
from tests.conftest import fund

ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


@pytest.fixture(autouse=True)
def _eager(settings: object) -> Iterator[None]:
    settings.CELERY_TASK_ALWAYS_EAGER = True  # type: ignore[attr-defined]
    from bank.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    # Restored: left on, every later test's on-commit task ran at commit (the webhook
    # claim race found its delivery already sent).
    app.conf.task_always_eager = before


def _kinds(user: User) -> list[str]:
    return list(
        Notification.objects.filter(user=user).order_by("id").values_list("kind", flat=True)
    )


def test_deposit_and_transfer_are_told_once_in_the_customers_language(
    customer: User, make_customer: Callable[..., User]
) -> None:
    CustomerLanguage.objects.create(user=customer, language="kk")
    fund(account_of(customer, "BTC"), 150_000)
    sender = make_customer("sender@example.kz")
    Identity.objects.filter(user=sender).update(full_name="Dana Serikovna Abenova")
    fund(account_of(sender, "KZT"), 10_000_00)
    transfer_create(
        debit_account_id=account_of(sender, "KZT").pk,
        credit_account_id=account_of(customer, "KZT").pk,
        amount_minor=2_500_00, code="internal", initiator=sender, memo="for lunch",
    )  # fmt: skip
    assert notifications_collect() == 2
    assert notifications_collect() == 0  # a second run tells nobody twice
    assert _kinds(customer) == [
        NotificationKind.DEPOSIT_CREDITED,
        NotificationKind.TRANSFER_RECEIVED,
    ]
    to_customer = [m for m in mail.outbox if m.to == [customer.email]]
    assert len(to_customer) == 2
    assert "0.00150000 BTC" in to_customer[0].body and "есепке алынды" in to_customer[0].body
    assert "2500.00 KZT" in to_customer[1].body and "Dana A." in to_customer[1].body
    assert all(n.emailed_at for n in Notification.objects.filter(user=customer))


def test_security_events_are_told_and_carry_no_secrets(customer: User) -> None:
    backup_codes = enable_2fa(customer)
    withdrawal_address_add(
        user=customer, label="Cold card", address=ADDRESS, otp_code=otp_code(customer)
    )
    notifications_collect()
    assert _kinds(customer) == [
        NotificationKind.TWOFACTOR_CHANGED, NotificationKind.WITHDRAWAL_ADDRESS_ADDED
    ]  # fmt: skip
    bodies = " ".join(str(m.body) for m in mail.outbox if m.to == [customer.email])
    assert "turned on" in bodies and ADDRESS in bodies
    from django_otp.plugins.otp_totp.models import TOTPDevice

    key = TOTPDevice.objects.get(user=customer).key
    assert key not in bodies and not any(code in bodies for code in backup_codes)


def test_kyc_decision_and_freeze_are_told(customer: User, make_user: Callable[..., User]) -> None:
    officer = make_user(email="officer@alatau.kz", is_staff=True, is_superuser=True)
    Identity.objects.filter(user=customer).update(status="submitted", full_name="A B")
    identity_approve(actor=officer, identity_id=Identity.objects.get(user=customer).pk, tier=1)
    account_freeze(account_id=account_of(customer, "BTC").pk, actor=officer, reason="check")
    notifications_collect()
    assert _kinds(customer) == [NotificationKind.KYC_DECIDED, NotificationKind.ACCOUNT_FROZEN]
    body = " ".join(str(m.body) for m in mail.outbox if m.to == [customer.email])
    assert "tier 1" in body and account_of(customer, "BTC").number in body


def test_a_login_from_a_new_device_is_told_but_not_the_first(customer: User) -> None:
    now = timezone.now()
    for key, agent in (
        ("s1", "Firefox on Linux"),
        ("s2", "Firefox on Linux"),
        ("s3", "Safari on iPhone"),
    ):
        UserSession.objects.create(
            user=customer, session_key=key, ip="10.0.0.7", user_agent=agent, last_seen_at=now
        )
    notifications_collect()
    assert _kinds(customer) == [NotificationKind.NEW_DEVICE_LOGIN]
    assert "Safari on iPhone" in Notification.objects.get(user=customer).data["device"]


def test_the_list_shows_them_in_the_page_language_and_reads_them(customer: User) -> None:
    fund(account_of(customer, "BTC"), 150_000)
    notifications_collect()
    client = login(Client(), customer)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert 'data-testid="nav-notifications"' in page and 'class="count"' in page
    page = client.get("/notifications/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Пополнение зачислено" in page and "0.00150000 BTC" in page
    assert Notification.objects.get(user=customer).read_at is not None
    assert 'class="count"' not in client.get("/").content.decode()
    # The language used on the site is the one of later emails.
    assert CustomerLanguage.objects.get(user=customer).language in ("ru", "en")
