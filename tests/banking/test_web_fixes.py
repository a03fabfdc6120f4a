"""What stopped or misled customers (issue 15): checks before the code, clear refusals."""

from __future__ import annotations

import datetime as dt
import io
import secrets

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from pypdf import PdfReader

from accounts.models import Account, AccountStatus, Identity, User
from custody.models import Withdrawal, WithdrawalAddress
from tests.banking.conftest import account_of, enable_2fa, login, otp_code, streamed
from tests.conftest import fund
from treasury import merkle
from treasury.models import ReserveLeaf, ReserveSnapshot

ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"


@pytest.fixture
def tfa_client(customer: User) -> Client:
    enable_2fa(customer)
    Identity.objects.filter(user=customer).update(status="approved", tier=2)
    WithdrawalAddress.objects.create(
        user=customer, label="Cold card", address=ADDRESS,
        usable_from=timezone.now() - dt.timedelta(seconds=1),
    )  # fmt: skip
    return login(Client(), customer)


def _step_one(client: Client, customer: User, amount: str) -> tuple[int, str, bool]:
    saved = WithdrawalAddress.objects.get(user=customer)
    response = client.post("/withdraw/", {"address": saved.pk, "amount": amount})
    form = response.context["form"]
    return response.status_code, " ".join(form.errors.get("amount", [])), "otp_code" in form.fields


def test_amounts_are_checked_before_the_code_is_asked_for(
    customer: User, tfa_client: Client, rate: object
) -> None:
    fund(account_of(customer, "BTC"), 1_000_000)  # 0.01 BTC
    status, errors, asks_code = _step_one(tfa_client, customer, "1000")
    assert status == 422 and not asks_code and "largest withdrawal is 10.00000000 BTC" in errors
    status, errors, asks_code = _step_one(tfa_client, customer, "5")
    assert status == 422 and not asks_code
    assert "available" in errors and "0.01000000 BTC" in errors  # not "available after -4.99"
    status, errors, asks_code = _step_one(tfa_client, customer, "0.00000100")
    assert status == 422 and not asks_code and "smallest withdrawal" in errors
    # A sensible amount reaches the confirm page, which shows its KZT value.
    response = tfa_client.post(
        "/withdraw/",
        {"address": WithdrawalAddress.objects.get(user=customer).pk, "amount": "0.001"},
    )
    assert response.status_code == 200 and "otp_code" in response.context["form"].fields
    assert "≈\u00a045\u202f000.00 KZT" in response.content.decode()  # 0.001 BTC at 45 000 000
    assert not Withdrawal.objects.exists()


def test_a_valid_code_right_after_a_wrong_one_says_why_and_when(
    customer: User, tfa_client: Client
) -> None:
    fund(account_of(customer, "BTC"), 1_000_000)
    saved = WithdrawalAddress.objects.get(user=customer)
    data = {"address": saved.pk, "amount": "0.001", "confirm": "1"}
    wrong = tfa_client.post("/withdraw/", {**data, "idempotency_key": "k1", "otp_code": "000000"})
    assert "not valid" in " ".join(wrong.context["form"].errors["otp_code"])
    device = TOTPDevice.objects.get(user=customer)
    code = otp_code(customer)  # resets the device: make the failure count again
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=1, throttling_failure_timestamp=timezone.now()
    )
    right = tfa_client.post("/withdraw/", {**data, "idempotency_key": "k2", "otp_code": code})
    message = " ".join(right.context["form"].errors["otp_code"])
    assert "Too many wrong codes" in message and "second" in message
    assert not Withdrawal.objects.exists()


def test_a_frozen_account_explains_itself(customer: User, customer_client: Client) -> None:
    Account.objects.filter(owner=customer).update(status=AccountStatus.FROZEN)
    page = customer_client.get("/").content.decode()
    assert 'data-testid="frozen-notice"' in page
    assert "cannot send, exchange or withdraw" in page and "contact support" in page


def _snapshot(accounts: list[tuple[Account, int]], assets_sats: int) -> ReserveSnapshot:
    salts = [secrets.token_hex(16) for _ in accounts]
    leaves = [
        merkle.Node(merkle.leaf_hash(salt_hex=s, account=a.number, balance_sats=b), b)
        for s, (a, b) in zip(salts, accounts, strict=True)
    ]
    root = merkle.levels(leaves)[-1][0]
    snapshot = ReserveSnapshot.objects.create(
        root_hash=root.hash.hex(), total_sats=root.sum, leaf_count=len(leaves),
        assets=[], assets_total_sats=assets_sats, block_height=101, block_hash="00" * 32,
    )  # fmt: skip
    for position, (salt, (account, balance)) in enumerate(zip(salts, accounts, strict=True)):
        ReserveLeaf.objects.create(
            snapshot=snapshot, account=account, position=position, salt=salt, balance_sats=balance
        )
    return snapshot


def test_proof_of_reserves_is_public_with_totals_in_btc_and_kzt(
    customer: User, make_customer: object, rate: object
) -> None:
    other = make_customer("other@example.kz")  # type: ignore[operator]
    snapshot = _snapshot(
        [(account_of(customer, "BTC"), 30_000), (account_of(other, "BTC"), 70_000)], 90_000
    )
    page = Client().get("/reserves/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    html = page.content.decode()
    assert snapshot.root_hash in html
    assert "0.00100000 BTC" in html and "≈\u00a045\u202f000.00 KZT" in html  # liabilities
    assert 'data-testid="reserves-shortfall"' in html and "0.00010000 BTC less" in html
    assert "Your balance is not reduced" in html
    assert 'id="verifier"' in html and "reserves.js" in html
    assert "Download the proof" not in html  # signed out: nothing of anyone's
    mine = login(Client(), customer).get("/reserves/").content.decode()
    assert "Download the proof" in mine
    proof = login(Client(), customer).get("/reserves/proof/")
    assert proof.status_code == 200 and proof.json()["root"]["hash"] == snapshot.root_hash


def test_pdf_statement_has_the_name_pages_time_and_a_cyrillic_font(
    customer: User, customer_client: Client
) -> None:
    Identity.objects.filter(user=customer).update(full_name="Әлия Қасымқызы Нұрланова")
    kzt = account_of(customer, "KZT")
    fund(kzt, 1_000_00)
    today = timezone.localdate()
    response = customer_client.get(
        "/statement/",
        {"account": str(kzt.pk), "start": str(today), "end": str(today), "format": "pdf"},
        HTTP_ACCEPT_LANGUAGE="kk",
    )
    assert response["Content-Type"] == "application/pdf"
    body = streamed(response)
    assert body.startswith(b"%PDF-")
    assert b"DejaVuSans" in body  # the embedded font with Kazakh and Cyrillic letters
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)
    assert "Әлия Қасымқызы Нұрланова" in text
    assert "1-бет" in text and "Жасалған уақыты" in text


def test_the_2fa_qr_code_scales_instead_of_being_cropped(customer_client: Client) -> None:
    html = customer_client.get("/security/2fa/setup/").content.decode()
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert "viewBox" in svg and 'width="' not in svg.split(">", 1)[0]


def test_no_quote_for_more_than_the_balance(
    customer: User, customer_client: Client, rate: object
) -> None:
    fund(account_of(customer, "BTC"), 100_000)  # 0.001 BTC
    response = customer_client.post("/exchange/", {"direction": "btc_kzt", "amount": "0.002"})
    assert response.status_code == 200
    assert "0.00100000 BTC available" in " ".join(response.context["form"].errors["amount"])
    response = customer_client.post("/exchange/", {"direction": "btc_kzt", "amount": "0.001"})
    assert response.status_code == 302
