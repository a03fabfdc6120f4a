"""Fixtures for the merchant API tests: a merchant, keys, an API client, Greenfield schemas."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.utils import timezone
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from rest_framework.test import APIClient

import merchants.auth
from accounts.models import Account, Identity, KycStatus, User
from bank.celery import app as celery_app
from merchants.models import Merchant, PayoutAddress
from merchants.services.keys import SCOPES, api_key_issue
from merchants.services.merchants import merchant_onboard
from merchants.services.settlement import merchant_set_settle_to_kzt

# BTCPay Server's own OpenAPI description of invoices and webhooks, copied from the
# project's shared reference data so the contract tests run from any checkout.
REFERENCE = Path(__file__).parent / "reference" / "greenfield-invoices-webhooks.openapi.json"
# The other Greenfield files Alatau shares endpoints with (server info, health, stores,
# store payment methods, API keys), from the same commit; merged into one document.
WIDER_REFERENCE = sorted((Path(__file__).parent / "reference" / "swagger").glob("*.json"))
ALL_SCOPES = sorted(SCOPES)


@pytest.fixture(autouse=True)
def _merchant_settings(settings: Any) -> None:
    settings.MERCHANT_INVOICE_ONCHAIN = False  # the node tests turn it on
    settings.MERCHANT_API_RATE = "1000/min"
    # Failed keys are counted per client address; tests share 127.0.0.1, so only the
    # throttling test sets a low limit (with its own address).
    settings.MERCHANT_API_AUTH_FAILURE_RATE = "100000/min"
    settings.MERCHANT_PUBLIC_BASE_URL = "http://testserver"
    # The public pages count per client address in the shared Redis: only the rate-limit
    # tests set low limits (each with an address of its own and the clock held still).
    settings.MERCHANT_WEB_PUBLIC_RATE = "100000/min"
    settings.MERCHANT_WEB_PAY_RATE = "100000/min"
    settings.MERCHANT_WEB_POLL_RATE = "100000/min"


class WindowClock:
    """``merchants.auth.window_hit``'s clock, held still: a window cannot end mid-test."""

    def __init__(self) -> None:
        self.now: float = int(time.time())

    def time(self) -> float:
        return self.now


@pytest.fixture
def window_clock(monkeypatch: pytest.MonkeyPatch) -> WindowClock:
    """Hold the fixed-window rate limits' clock; a test moves ``now`` on to end a window."""
    held = WindowClock()
    monkeypatch.setattr(merchants.auth, "time", held)
    return held


@pytest.fixture
def celery_eager() -> Iterator[None]:
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def make_merchant(make_user: Callable[..., User]) -> Callable[..., Merchant]:
    def make(name: str = "Tea House", **kwargs: Any) -> Merchant:
        owner = make_user()
        # A business the bank onboards has its owner's identity verified (tier 2 limits).
        from accounts.models import Identity, KycStatus

        Identity.objects.update_or_create(
            user=owner, defaults={"status": KycStatus.APPROVED, "tier": 2, "full_name": "Owner"}
        )
        return merchant_onboard(name=name, owner=owner, actor=None, **kwargs)

    return make


@pytest.fixture
def merchant(make_merchant: Callable[..., Merchant]) -> Merchant:
    return make_merchant()


@pytest.fixture
def make_client() -> Callable[..., APIClient]:
    def make(merchant: Merchant, scopes: list[str] | None = None) -> APIClient:
        _, token = api_key_issue(
            merchant=merchant, label="test", scopes=scopes or ALL_SCOPES, actor=merchant.owner
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"token {token}")
        return client

    return make


@pytest.fixture
def api(merchant: Merchant, make_client: Callable[..., APIClient]) -> APIClient:
    return make_client(merchant)


def store_url(merchant: Merchant, rest: str = "") -> str:
    return f"/api/v1/stores/{merchant.store_id}/{rest}"


# --- Greenfield reference schemas -------------------------------------------------------


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable`` -> JSON Schema ``null`` type; applied recursively."""
    if isinstance(node, list):
        return [_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items()}
    if out.pop("nullable", False):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


def _drop_closed(node: Any) -> Any:
    """Remove every ``additionalProperties: false`` (``Greenfield._strict`` checks keys)."""
    if isinstance(node, list):
        return [_drop_closed(n) for n in node]
    if not isinstance(node, dict):
        return node
    return {
        k: _drop_closed(v)
        for k, v in node.items()
        if not (k == "additionalProperties" and v is False)
    }


class Greenfield:
    """Validate bodies against BTCPay's own component schemas (``$ref`` within the file).

    Two passes. Types, enums and formats: JSON Schema with every
    ``additionalProperties: false`` removed, because inside ``allOf`` (as
    Greenfield uses it) it would reject the other members' fields. Unknown
    keys: a walk that, at every object, allows exactly the properties named by
    the whole ``allOf``/``$ref`` closure, and refuses others where any member
    of the closure says ``additionalProperties: false``.
    """

    def __init__(self) -> None:
        self.raw = json.loads(REFERENCE.read_text())
        for extra in WIDER_REFERENCE:
            for kind, items in json.loads(extra.read_text()).get("components", {}).items():
                for name, item in items.items():
                    self.raw.setdefault("components", {}).setdefault(kind, {}).setdefault(
                        name, item
                    )
        doc = _drop_closed(_nullable(copy.deepcopy(self.raw)))
        self.registry: Registry = Registry().with_resource(
            "urn:greenfield", DRAFT202012.create_resource(doc)
        )

    def _members(
        self, schema: dict[str, Any], seen: frozenset[str] = frozenset()
    ) -> list[dict[str, Any]]:
        """The schema and every ``allOf`` member / ``$ref`` target it pulls in."""
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name in seen:
                return []
            target = self.raw["components"]["schemas"][name]
            return self._members(target, seen | {name})
        out = [schema]
        for member in schema.get("allOf", []):
            out += self._members(member, seen)
        return out

    def _strict(self, instance: Any, schema: dict[str, Any], where: str) -> None:
        members = self._members(schema)
        if isinstance(instance, dict):
            props: dict[str, list[dict[str, Any]]] = {}
            for member in members:
                for key, sub in member.get("properties", {}).items():
                    props.setdefault(key, []).append(sub)
            closed = any(m.get("additionalProperties") is False for m in members)
            opened = any(m.get("additionalProperties") is True for m in members)
            if closed and not opened:
                unknown = sorted(set(instance) - set(props))
                assert not unknown, f"{where}: fields not in Greenfield: {unknown}"
            for key, value in instance.items():
                for sub in props.get(key, []):
                    self._strict(value, sub, f"{where}.{key}")
        elif isinstance(instance, list):
            for member in members:
                if isinstance(member.get("items"), dict):
                    for i, item in enumerate(instance):
                        self._strict(item, member["items"], f"{where}[{i}]")

    def validate(self, instance: Any, component: str) -> None:
        schema = {"$ref": f"urn:greenfield#/components/schemas/{component}"}
        jsonschema.Draft202012Validator(schema, registry=self.registry).validate(instance)
        self._strict(instance, {"$ref": f"#/components/schemas/{component}"}, component)


@pytest.fixture(scope="session")
def greenfield() -> Greenfield:
    return Greenfield()


# --- A tiny local HTTP receiver for webhook deliveries -----------------------------------


class Receiver:
    """Records every POST; answers with the next queued status (default 200)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        self.hold: threading.Event | None = None  # set: answers wait for it (10 s at most)
        self.arrived = threading.Event()  # set at the first POST
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body})
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(10)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback_webhooks(settings: Any) -> None:
    """Lift the webhook SSRF guard for this test only: its target is on 127.0.0.1."""
    settings.MERCHANT_WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def receiver(loopback_webhooks: None) -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (so the SSRF guard is lifted for the test)."""
    r = Receiver()
    yield r
    r.close()


def problems(response: Any) -> dict[str, str]:
    """A Greenfield 422 body (``[{"path", "message"}]``) as {path: message}; asserts the shape."""
    assert response.status_code == 422, (response.status_code, response.content)
    body = response.json()
    assert isinstance(body, list) and body, body
    assert all({"path", "message"} <= set(item) for item in body), body
    return {item["path"]: item["message"] for item in body}


def allow_list(merchant: Merchant, address: str, *, usable_now: bool = True) -> PayoutAddress:
    """Put ``address`` on the store's payout allow-list, usable now (or still cooling down)."""
    when = timezone.now() + (timedelta(seconds=-1) if usable_now else timedelta(days=1))
    saved, _ = PayoutAddress.objects.update_or_create(
        merchant=merchant, address=address, removed_at=None,
        defaults={"label": "test", "usable_from": when},
    )  # fmt: skip
    return saved


def owner_verified(merchant: Merchant, tier: int = 1) -> None:
    """Give the store's owner an approved identity: payouts apply the owner's tier limits."""
    Identity.objects.update_or_create(
        user=merchant.owner, defaults={"status": KycStatus.APPROVED, "tier": tier}
    )


# The KZT-settling store and a payer with 0.1 BTC, shared by the settlement and refund tests.
@pytest.fixture
def kzt_store(merchant: Merchant) -> Merchant:
    return merchant_set_settle_to_kzt(merchant=merchant, enabled=True, actor=merchant.owner)


@pytest.fixture
def payer(make_user: Callable[..., User], funded_account: Callable[..., Account]) -> Any:
    user = make_user(email_verified_at=timezone.now())
    return user, funded_account(10_000_000, owner=user)
