"""The API-key request flow shop plugins use: ``/api-keys/authorize``, as BTCPay answers it."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from merchants.models import ApiKey, Merchant
from merchants.services.keys import token_hash
from merchants.services.merchants import merchant_onboard
from tests.banking.conftest import PASSWORD, enable_2fa, login

pytestmark = pytest.mark.django_db

ASK = [
    ("applicationName", "WooCommerce"),
    ("applicationIdentifier", "woocommerce"),
    ("strict", "true"),
    ("selectiveStores", "true"),
    ("redirect", "https://shop.example/wp-json/btcpay/callback"),
    ("permissions[0]", "btcpay.store.canviewinvoices"),
    ("permissions[1]", "btcpay.store.cancreateinvoice"),
    ("permissions[2]", "btcpay.store.webhooks.canmodifywebhooks"),
    ("permissions[3]", "btcpay.store.cancreatenonapprovedpullpayments"),
]


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user(password=PASSWORD)


@pytest.fixture
def shop(owner: User) -> Merchant:
    return merchant_onboard(name="Tea House", owner=owner, actor=None)


def _url(pairs: list[tuple[str, str]]) -> str:
    return "/api-keys/authorize?" + urlencode(pairs)


def test_anonymous_goes_to_login_and_back(shop: Merchant) -> None:
    response = Client().get(_url(ASK))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/api-keys/authorize")


def test_a_login_without_the_second_factor_is_refused(owner: User, shop: Merchant) -> None:
    client = login(Client(), owner)  # no authenticator app: the session is not verified
    response = client.get(_url(ASK))
    assert response.status_code == 403
    assert 'data-testid="authorize-needs-2fa"' in response.content.decode()
    assert client.post(_url(ASK), dict(ASK)).status_code == 403
    assert not ApiKey.objects.exists()


def test_consent_creates_the_key_and_posts_it_back(owner: User, shop: Merchant) -> None:
    enable_2fa(owner)
    client = login(Client(), owner)
    page = client.get(_url(ASK))
    html = page.content.decode()
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    assert 'data-testid="redirect-host">shop.example<' in html
    assert "btcpay.store.cancreatenonapprovedpullpayments" in html  # shown as unavailable
    form = {k: v for k, v in ASK if not k.startswith("permissions")}
    answer = client.post(
        "/api-keys/authorize",
        {
            **form,
            "permissions": [
                "btcpay.store.canviewinvoices",
                "btcpay.store.cancreateinvoice",
                "btcpay.store.webhooks.canmodifywebhooks",
            ],
            "approve": "",
        },
    )
    body = answer.content.decode()
    assert answer.status_code == 200
    assert 'action="https://shop.example/wp-json/btcpay/callback"' in body
    token = re.search(r'name="apiKey" value="([0-9a-f]{40})"', body)
    assert token is not None
    assert f'name="userId" value="{owner.pk}"' in body
    granted = re.findall(r'name="permissions\[\]" value="([^"]+)"', body)
    assert granted == [
        f"btcpay.store.canviewinvoices:{shop.store_id}",
        f"btcpay.store.cancreateinvoice:{shop.store_id}",
        f"btcpay.store.webhooks.canmodifywebhooks:{shop.store_id}",
    ]
    key = ApiKey.objects.get(merchant=shop)
    assert key.label == "WooCommerce" and key.key_hash == token_hash(token.group(1))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"token {token.group(1)}")
    current = api.get("/api/v1/api-keys/current").json()
    assert sorted(current["permissions"]) == sorted(granted)


def test_not_strict_lets_the_merchant_drop_permissions(owner: User, shop: Merchant) -> None:
    enable_2fa(owner)
    client = login(Client(), owner)
    answer = client.post(
        "/api-keys/authorize/",
        {
            "strict": "false",
            "permissions": ["btcpay.store.canviewinvoices", "btcpay.store.cancreateinvoice"],
            "grant": ["btcpay.store.canviewinvoices"],
        },
    )
    html = answer.content.decode()
    assert 'data-testid="new-token"' in html  # no redirect: shown once on the page
    assert ApiKey.objects.get(merchant=shop).scopes == ["btcpay.store.canviewinvoices"]


def test_cancel_and_bad_requests(
    owner: User, shop: Merchant, make_user: Callable[..., User]
) -> None:
    enable_2fa(owner)
    client = login(Client(), owner)
    denied = client.post("/api-keys/authorize", {**dict(ASK), "deny": ""})
    assert 'data-testid="authorize-denied"' in denied.content.decode()
    for bad in (
        [("redirect", "javascript:alert(1)")],
        [("redirect", "/relative")],
        [("strict", "maybe")],
        [("applicationName", "x\x00")],
        [("permissions", "p") for _ in range(60)],
    ):
        response = client.get(_url(bad))
        assert response.status_code == 400, bad
    other_store = client.get(_url([("permissions", "btcpay.store.canviewinvoices:SOMEOTHERSTORE")]))
    assert 'data-testid="unavailable"' in other_store.content.decode()
    assert not ApiKey.objects.exists()
    stranger = make_user(password=PASSWORD)
    assert login(Client(), stranger).get(_url(ASK)).status_code == 404  # not a merchant
