"""Transfers to another customer: lookup, confirmation, idempotency, 2FA, limits, access."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import Identity, Transfer, User
from accounts.selectors import ledger_check
from banking.services.transfers import customer_transfer_create
from compliance.errors import LimitExceeded
from compliance.models import TierLimit
from tests.banking.conftest import account_of, enable_2fa, login, otp_code, otp_lockout_elapse
from tests.conftest import fund, run_threads


@pytest.fixture
def recipient(make_customer: Any) -> User:
    user = make_customer("bolat@example.kz")
    Identity.objects.filter(user=user).update(full_name="Bolat Serikuly Nurpeisov")
    return user


def _review(client: Client, account_id: int, recipient: str, amount: str, memo: str = "") -> Any:
    return client.post(
        "/transfers/new/",
        {"from_account": account_id, "recipient": recipient, "amount": amount, "memo": memo},
    )


def _confirm(client: Client, review: Any, **extra: str) -> Any:
    form = review.context["form"]
    data = {
        "from_account": review.context["account"].pk,
        "recipient": form["recipient"].value(),
        "amount": form["amount"].value(),
        "memo": form["memo"].value() or "",
        "idempotency_key": form["idempotency_key"].value(),
        "confirm": "1",
        **extra,
    }
    return client.post("/transfers/new/", data)


def test_transfer_by_iban_with_spaces_shows_masked_name_then_moves_money(
    customer: User, customer_client: Client, recipient: User
) -> None:
    kzt = account_of(customer, "KZT")
    fund(kzt, 100_000_00)
    target = account_of(recipient, "KZT")
    review = _review(customer_client, kzt.pk, target.number_formatted.lower(), "2500.50", "Rent")
    assert review.status_code == 200
    html = review.content.decode()
    assert "Bolat N." in html
    assert "Nurpeisov" not in html  # only the initial of the last name
    assert "2\u202f500.50 KZT" in html
    assert Transfer.objects.filter(code="internal").count() == 0  # nothing moves before confirm
    response = _confirm(customer_client, review)
    assert response.status_code == 302
    transfer = Transfer.objects.get(code="internal")
    assert response["Location"] == f"/transfers/{transfer.pk}/"
    assert transfer.amount_minor == 2_500_50
    assert transfer.memo == "Rent"
    assert account_of(recipient, "KZT").posted_minor == 2_500_50
    assert account_of(customer, "KZT").posted_minor == 100_000_00 - 2_500_50
    receipt = customer_client.get(response["Location"])
    assert "Money sent" in receipt.content.decode()
    assert ledger_check() == []


def test_transfer_by_email(customer: User, customer_client: Client, recipient: User) -> None:
    btc = account_of(customer, "BTC")
    fund(btc, 50_000)
    review = _review(customer_client, btc.pk, "BOLAT@example.kz", "0.0001")
    assert review.status_code == 200
    assert _confirm(customer_client, review).status_code == 302
    assert account_of(recipient, "BTC").posted_minor == 10_000


def test_double_submit_moves_money_once(
    customer: User, customer_client: Client, recipient: User
) -> None:
    kzt = account_of(customer, "KZT")
    fund(kzt, 10_000_00)
    review = _review(customer_client, kzt.pk, "bolat@example.kz", "100")
    first = _confirm(customer_client, review)
    second = _confirm(customer_client, review)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Transfer.objects.filter(code="internal").count() == 1
    assert account_of(recipient, "KZT").posted_minor == 100_00


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submit_moves_money_once(make_customer: Any) -> None:
    sender, receiver = make_customer("s@example.kz"), make_customer("r@example.kz")
    kzt = account_of(sender, "KZT")
    fund(kzt, 10_000_00)
    client = login(Client(), sender)
    review = _review(client, kzt.pk, "r@example.kz", "100")
    cookies = client.cookies

    def submit(_: int) -> int:
        c = Client()
        c.cookies = cookies
        return _confirm(c, review).status_code

    results = run_threads(6, submit)
    assert all(r == 302 for r in results), results
    assert Transfer.objects.filter(code="internal").count() == 1
    assert account_of(receiver, "KZT").posted_minor == 100_00


@pytest.mark.parametrize(
    ("recipient_text", "amount", "field", "message"),
    [
        ("nobody@example.kz", "10", "recipient", "No Alatau customer"),
        ("KZ00 0000 0000 0000 0000", "10", "recipient", "No Alatau customer"),
        ("aigerim@example.kz", "10", "recipient", "your own account"),
        ("bolat@example.kz", "10.001", "amount", "at most 2 decimal"),
        ("bolat@example.kz", "1e3", "amount", "plain decimal"),
        ("bolat@example.kz", "-5", "amount", "not be negative"),
        ("bolat@example.kz", "0", "amount", "more than 0"),
        ("", "10", "recipient", "required"),
    ],
)
def test_errors_are_shown_next_to_the_field(
    customer: User,
    customer_client: Client,
    recipient: User,
    recipient_text: str,
    amount: str,
    field: str,
    message: str,
) -> None:
    kzt = account_of(customer, "KZT")
    fund(kzt, 1_000_00)
    response = _review(customer_client, kzt.pk, recipient_text, amount)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message.lower() in " ".join(errors.get(field, [])).lower(), errors


def test_currency_of_recipient_account_must_match(
    customer: User, customer_client: Client, recipient: User
) -> None:
    kzt = account_of(customer, "KZT")
    response = _review(customer_client, kzt.pk, account_of(recipient, "BTC").number, "10")
    assert "holds BTC" in " ".join(response.context["form"].errors["recipient"])


def test_insufficient_funds_is_shown_on_the_amount(
    customer: User, customer_client: Client, recipient: User
) -> None:
    kzt = account_of(customer, "KZT")
    fund(kzt, 10_00)
    review = _review(customer_client, kzt.pk, "bolat@example.kz", "20")
    response = _confirm(customer_client, review)
    assert response.status_code == 422
    assert "enough" in " ".join(response.context["form"].errors["amount"])
    assert Transfer.objects.filter(code="internal").count() == 0


def test_large_transfer_needs_a_second_factor(
    customer: User, customer_client: Client, recipient: User, settings: Any
) -> None:
    settings.TRANSFER_2FA_THRESHOLD_TIYN = 1_000_00
    kzt = account_of(customer, "KZT")
    fund(kzt, 10_000_00)
    # Without 2FA set up: refused with a pointer to set it up.
    review = _review(customer_client, kzt.pk, "bolat@example.kz", "1000")
    assert review.context["needs_2fa"] is True
    response = _confirm(customer_client, review)
    assert response.status_code == 422
    assert "two-factor" in response.content.decode().lower()
    enable_2fa(customer)
    review = _review(customer_client, kzt.pk, "bolat@example.kz", "1000")
    response = _confirm(customer_client, review, otp_code="000000")
    assert response.status_code == 422
    assert "not valid" in " ".join(response.context["form"].errors["otp_code"])
    assert Transfer.objects.filter(code="internal").count() == 0
    otp_lockout_elapse(customer)  # the wrong code above locked the device
    response = _confirm(customer_client, review, otp_code=otp_code(customer))
    assert response.status_code == 302
    # Below the threshold no code is asked.
    review = _review(customer_client, kzt.pk, "bolat@example.kz", "999.99")
    assert review.context["needs_2fa"] is False
    assert _confirm(customer_client, review).status_code == 302


def test_tier_limit_is_shown_on_the_amount(
    customer: User, customer_client: Client, recipient: User
) -> None:
    kzt = account_of(customer, "KZT")
    fund(kzt, 100_000_00)
    review = _review(customer_client, kzt.pk, "bolat@example.kz", "50000.01")  # tier 0: 50 000 each
    response = _confirm(customer_client, review, otp_code="")
    assert response.status_code == 422
    assert "limit" in " ".join(response.context["form"].errors["amount"])


def test_sending_from_another_customers_account_is_refused(
    customer: User, customer_client: Client, recipient: User
) -> None:
    theirs = account_of(recipient, "KZT")
    fund(theirs, 1_000_00)
    response = _review(customer_client, theirs.pk, "aigerim@example.kz", "10")
    assert "from_account" in response.context["form"].errors
    review_like = {
        "from_account": theirs.pk,
        "recipient": "aigerim@example.kz",
        "amount": "10",
        "memo": "",
        "idempotency_key": "k1",
        "confirm": "1",
    }
    customer_client.post("/transfers/new/", review_like)
    assert account_of(recipient, "KZT").posted_minor == 1_000_00


def test_another_customers_transfer_is_404(
    customer: User, recipient: User, make_customer: Any
) -> None:
    kzt = account_of(customer, "KZT")
    fund(kzt, 1_000_00)
    client = login(Client(), customer)
    review = _review(client, kzt.pk, "bolat@example.kz", "10")
    location = _confirm(client, review)["Location"]
    stranger = login(Client(), make_customer())
    assert stranger.get(location).status_code == 404
    assert login(Client(), recipient).get(location).status_code == 200
    assert client.get("/transfers/999999/").status_code == 404


def test_transfer_post_is_rate_limited(customer: User, recipient: User, settings: Any) -> None:
    settings.RATELIMIT_TRANSFER = "2/m"
    client = login(Client(REMOTE_ADDR="10.3.3.3"), customer)
    kzt = account_of(customer, "KZT")
    for _ in range(2):
        _review(client, kzt.pk, "bolat@example.kz", "1")
    assert _review(client, kzt.pk, "bolat@example.kz", "1").status_code == 429


def _tier1_transfer_limits(user: User, *, daily: int, monthly: int) -> None:
    Identity.objects.filter(user=user).update(status="approved", tier=1)
    TierLimit.objects.update_or_create(
        tier=1, kind="transfer",
        defaults={"per_transaction_tiyn": 5_000_00, "daily_tiyn": daily, "monthly_tiyn": monthly},
    )  # fmt: skip


def test_monthly_limit_counts_the_month_not_only_the_day(make_customer: Any) -> None:
    sender, _ = make_customer("s@example.kz"), make_customer("r@example.kz")
    _tier1_transfer_limits(sender, daily=1_000_000_00, monthly=7_000_00)
    kzt = account_of(sender, "KZT")
    fund(kzt, 100_000_00)

    def send(amount: int, key: str) -> Transfer:
        return customer_transfer_create(
            sender=sender, debit_account_id=kzt.pk, recipient="r@example.kz",
            amount_minor=amount, idempotency_key=key,
        )  # fmt: skip

    send(4_000_00, "m1")
    send(3_000_00, "m2")  # 7 000.00 KZT in the month: exactly at the limit
    with pytest.raises(LimitExceeded, match="monthly"):
        send(1, "m3")
    assert Transfer.objects.filter(code="internal").count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_transfers_never_pass_the_monthly_limit(make_customer: Any) -> None:
    sender, receiver = make_customer("s@example.kz"), make_customer("r@example.kz")
    _tier1_transfer_limits(sender, daily=1_000_000_00, monthly=12_000_00)
    kzt = account_of(sender, "KZT")
    fund(kzt, 100_000_00)

    def send(i: int) -> Transfer:
        return customer_transfer_create(
            sender=sender, debit_account_id=kzt.pk, recipient="r@example.kz",
            amount_minor=3_000_00, idempotency_key=f"c{i}",
        )  # fmt: skip

    results = run_threads(8, send)
    sent = [r for r in results if isinstance(r, Transfer)]
    refused = [r for r in results if not isinstance(r, Transfer)]
    assert len(sent) == 4, results  # 4 x 3 000.00 = the 12 000.00 KZT monthly limit
    assert all(isinstance(r, LimitExceeded) and "monthly" in str(r) for r in refused), refused
    assert account_of(receiver, "KZT").posted_minor == 12_000_00
    assert ledger_check() == []
