"""Every customer page: login required, staff kept out, object ids of others give 404."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from tests.banking.conftest import PASSWORD

CUSTOMER_PAGES = [
    "/",
    "/identity/",
    "/security/",
    "/security/password/",
    "/security/2fa/setup/",
    "/security/2fa/backup-codes/",
    "/security/2fa/disable/",
    "/transfers/new/",
    "/transfers/1/",
    "/exchange/",
    "/exchange/quotes/1/",
    "/statement/",
    "/addresses/",
    "/deposit/",
    "/withdraw/",
    "/withdrawals/1/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", CUSTOMER_PAGES)
def test_anonymous_is_sent_to_login(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.django_db
@pytest.mark.parametrize("url", CUSTOMER_PAGES)
def test_staff_get_no_customer_page(url: str) -> None:
    staff = User.objects.create_user(email="ops@alatau.kz", password=PASSWORD, is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(url).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/security/sessions/1/end/",
        "/security/sessions/end-others/",
        "/exchange/quotes/1/accept/",
        "/addresses/1/remove/",
        "/withdrawals/1/cancel/",
        "/logout/",
        "/confirm-email/resend/",
    ],
)
def test_state_changing_urls_refuse_get(url: str, customer_client: Client) -> None:
    assert customer_client.get(url).status_code == 405


def test_pages_have_labels_headings_and_a_viewport(customer_client: Client) -> None:
    for url in ("/", "/transfers/new/", "/identity/", "/statement/", "/exchange/", "/security/"):
        html = customer_client.get(url).content.decode()
        assert '<meta name="viewport"' in html, url
        assert "<h1" in html, url
        assert 'lang="en"' in html
    html = customer_client.get("/transfers/new/").content.decode()
    for field in ("from_account", "recipient", "amount", "memo"):
        assert f'for="id_{field}"' in html


def test_unknown_page_is_a_friendly_404(customer_client: Client) -> None:
    response = customer_client.get("/no-such-page/")
    assert response.status_code == 404
