"""schemathesis over the served OpenAPI schema: every operation, generated inputs, no 5xx,
every status documented, every response true to its schema.

Bounded: a few examples per operation (the whole file runs in well under two minutes).
Requests go to the Django WSGI app in-process, inside the test's transaction, so
nothing is committed and no webhook is ever sent; webhook URLs are loopback anyway.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from exchange.services import exchange_rate_set
from merchants.models import Merchant
from merchants.services.invoices import invoice_create
from merchants.services.keys import SCOPES, api_key_issue
from merchants.services.payments import invoice_pay_in_bank
from tests.merchants.conftest import store_url
from tests.merchants.test_funds import ADDRESS

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 8
LOOPBACK_HOOK = "http://127.0.0.1:9/hook"


@dataclass
class World:
    """Real objects for the path parameters, so generated requests reach the handlers."""

    token: str
    ids: dict[str, str]


@pytest.fixture
def in_test_transaction(world: World) -> Iterator[None]:
    """Keep the test's connection open across WSGI requests, as Django's test client does.

    (After ``world``: the test client reconnects the signals after each of its requests.)
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _served_spec() -> dict[str, Any]:
    """The document ``/api/schema/`` serves, built by the same generator, without a request.

    (Loading it over WSGI at collection time would need the database, which pytest-django
    keeps closed then; ``test_the_fuzzed_spec_is_the_served_one`` proves they are equal.)
    """
    generator = SchemaGenerator()
    document = generator.get_schema(request=None, public=True)
    return dict(json.loads(OpenApiJsonRenderer().render(document)))


SPEC = _served_spec()
schema = schemathesis.openapi.from_dict(copy.deepcopy(SPEC)).include(path_regex="^/api/v1/")
schema.app = get_wsgi_application()


@pytest.mark.django_db
def test_the_fuzzed_spec_is_the_served_one() -> None:
    served = Client().get("/api/schema/?format=json")
    assert served.status_code == 200
    assert served.json() == SPEC
    operations = [op for path, item in SPEC["paths"].items() if path.startswith("/api/v1/")
                  for op in item.values()]  # fmt: skip
    assert len(operations) >= 26


@pytest.fixture
def world(
    db: Any,
    make_merchant: Callable[..., Merchant],
    make_user: Callable[..., Any],
    funded_account: Callable[..., Any],
) -> World:
    exchange_rate_set(mid_tiyn_per_btc=45_000_000_00, spread_bp=100, actor=None)
    merchant = make_merchant(with_kzt=True)
    _, token = api_key_issue(
        merchant=merchant, label="fuzz", scopes=sorted(SCOPES), actor=merchant.owner
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"token {token}")
    invoice = api.post(store_url(merchant, "invoices"), {"amount": "0.001"}, format="json").json()
    hook = api.post(store_url(merchant, "webhooks"), {"url": LOOPBACK_HOOK}, format="json").json()
    api.post(store_url(merchant, "invoices"), {"amount": "0.002"}, format="json")
    delivery = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()[0]
    payer = make_user(email_verified_at=timezone.now())
    paid = invoice_create(merchant=merchant, amount="0.0005", currency="BTC")  # under tier 0
    invoice_pay_in_bank(
        invoice_id=paid.id, payer=payer, account_id=funded_account(1_000_000, owner=payer).pk
    )
    pull = api.post(
        f"/api/v1/invoices/{paid.id}/refund", {"refundVariant": "RateThen"}, format="json"
    ).json()
    claim = (
        APIClient()
        .post(
            f"/api/v1/pull-payments/{pull['id']}/payouts",
            {"destination": ADDRESS, "amount": "0.0001"},
            format="json",
        )
        .json()
    )
    return World(
        token=token,
        ids={
            "storeId": merchant.store_id,
            "invoiceId": invoice["id"],
            "webhookId": hook["id"],
            "deliveryId": delivery["id"],
            "pullPaymentId": pull["id"],
            "payoutId": claim["id"],
        },
    )


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)
@pytest.mark.django_db
def test_no_input_breaks_the_api(
    case: Any, world: World, in_test_transaction: None, settings: Any
) -> None:
    settings.MERCHANT_INVOICE_ONCHAIN = False
    for name, value in world.ids.items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value
    if isinstance(case.body, dict) and "url" in case.body:
        case.body["url"] = LOOPBACK_HOOK
    response = case.call(headers={"Authorization": f"token {world.token}"})
    case.validate_response(response, checks=CHECKS)
