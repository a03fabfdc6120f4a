"""Identity (KYC) submission: IIN, date of birth, document checks, private storage."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import Identity, User
from tests.banking.test_iin import VALID_FIRST_PASS

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def _data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "full_name": "Aigerim Nurlanovna Sultanova",
        "date_of_birth": "1990-05-15",
        "iin": VALID_FIRST_PASS,
        "address": "Abai Avenue 10, apt 5, Almaty 050000",
        "document": SimpleUploadedFile("id-card.pdf", PDF, content_type="application/pdf"),
    }
    data.update(overrides)
    return data


def test_identity_page_shows_status_tier_and_tier_limits(customer_client: Client) -> None:
    page = customer_client.get("/identity/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Not verified" in html and "Tier" in html
    assert "no withdrawals" in html
    assert "Withdrawals: not allowed" in html  # tier 0 limits from compliance


def test_submit_identity(customer_client: Client, customer: User) -> None:
    response = customer_client.post("/identity/", _data())
    assert response.status_code == 302
    identity = Identity.objects.get(user=customer)
    assert identity.status == "submitted"
    assert identity.iin == VALID_FIRST_PASS
    assert identity.date_of_birth == dt.date(1990, 5, 15)
    stored = Path(identity.document.path)
    assert stored.read_bytes() == PDF
    assert stored.suffix == ".pdf" and "id-card" not in stored.name  # random name
    # Private storage: under PRIVATE_MEDIA_ROOT, never under static files.
    assert stored.is_relative_to(Path(settings.PRIVATE_MEDIA_ROOT))
    assert not stored.is_relative_to(Path(settings.STATIC_ROOT))
    assert customer_client.get(f"/media/{identity.document.name}").status_code == 404
    # Submitted: the form is gone, a second submit is refused.
    page = customer_client.get("/identity/")
    assert page.context["form"] is None
    customer_client.post("/identity/", _data(full_name="Someone Else"))
    identity.refresh_from_db()
    assert identity.full_name == "Aigerim Nurlanovna Sultanova"
    stored.unlink()


def test_png_and_jpeg_are_accepted(customer_client: Client, make_customer: Any) -> None:
    for name, content in (("scan.png", PNG), ("photo.jpeg", JPEG)):
        client = Client()
        user = make_customer()
        client.force_login(user)
        doc = SimpleUploadedFile(name, content)
        assert client.post("/identity/", _data(document=doc)).status_code == 302
        Path(Identity.objects.get(user=user).document.path).unlink()


def _errors(client: Client, **overrides: object) -> dict[str, list[str]]:
    response = client.post("/identity/", _data(**overrides))
    assert response.status_code == 200
    return dict(response.context["form"].errors)


def test_bad_iin_check_digit(customer_client: Client, customer: User) -> None:
    errors = _errors(customer_client, iin="900515401231")
    assert "check digit" in " ".join(errors["iin"])
    assert Identity.objects.get(user=customer).status == "none"


def test_date_of_birth_must_match_the_iin(customer_client: Client) -> None:
    errors = _errors(customer_client, date_of_birth="1990-05-16")
    assert "does not match" in " ".join(errors["date_of_birth"])


def test_document_type_is_checked_by_its_bytes(customer_client: Client) -> None:
    fake = SimpleUploadedFile(
        "id.pdf", b"MZ\x90\x00 this is an executable", content_type="application/pdf"
    )
    errors = _errors(customer_client, document=fake)
    assert "PDF, JPEG or PNG" in " ".join(errors["document"])
    # A real PNG named .pdf is refused too: the name must match the content.
    renamed = SimpleUploadedFile("id.pdf", PNG)
    assert "document" in _errors(customer_client, document=renamed)


def test_document_size_limit(customer_client: Client) -> None:
    big = SimpleUploadedFile("id.pdf", PDF + b"0" * (5 * 1024 * 1024))
    errors = _errors(customer_client, document=big)
    assert "5 MB" in " ".join(errors["document"])


def test_all_errors_at_once_are_shown_next_to_their_fields(customer_client: Client) -> None:
    errors = _errors(customer_client, full_name="X", address="short", iin="123")
    assert {"full_name", "address", "iin"} <= set(errors)


def test_rejected_identity_can_be_resubmitted(customer_client: Client, customer: User) -> None:
    Identity.objects.filter(user=customer).update(status="rejected", decision_reason="Blurry photo")
    page = customer_client.get("/identity/")
    assert "Blurry photo" in page.content.decode()
    assert customer_client.post("/identity/", _data()).status_code == 302
    identity = Identity.objects.get(user=customer)
    assert identity.status == "submitted"
    Path(identity.document.path).unlink()
