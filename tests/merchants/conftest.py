"""Fixtures for the merchant API tests: a merchant, keys, an API client, Greenfield schemas."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from rest_framework.test import APIClient

from accounts.models import User
from bank.celery import app as celery_app
from merchants.models import Merchant
from merchants.services.keys import SCOPES, api_key_create
from merchants.services.merchants import merchant_onboard

REFERENCE = Path("/work/shared/reference/btcpay-greenfield/greenfield-invoices-webhooks.openapi.json")
ALL_SCOPES = sorted(SCOPES)


@pytest.fixture(autouse=True)
def _merchant_settings(settings: Any) -> None:
    settings.MERCHANT_INVOICE_ONCHAIN = False  # the node tests turn it on
    settings.MERCHANT_API_RATE = "1000/min"
    settings.MERCHANT_PUBLIC_BASE_URL = "http://testserver"


@pytest.fixture
def celery_eager() -> Iterator[None]:
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def make_merchant(make_user: Callable[..., User]) -> Callable[..., Merchant]:
    def make(name: str = "Tea House", **kwargs: Any) -> Merchant:
        return merchant_onboard(name=name, owner=make_user(), actor=None, **kwargs)

    return make


@pytest.fixture
def merchant(make_merchant: Callable[..., Merchant]) -> Merchant:
    return make_merchant()


@pytest.fixture
def make_client() -> Callable[..., APIClient]:
    def make(merchant: Merchant, scopes: list[str] | None = None) -> APIClient:
        _, token = api_key_create(merchant=merchant, label="test", scopes=scopes or ALL_SCOPES,
                                  actor=merchant.owner)
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


def _allof_targets(doc: dict[str, Any]) -> set[str]:
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for member in node.get("allOf", []):
                ref = member.get("$ref", "") if isinstance(member, dict) else ""
                if ref.startswith("#/components/schemas/"):
                    names.add(ref.rsplit("/", 1)[1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    return names


def _open_allof(node: Any) -> Any:
    """Drop ``additionalProperties: false`` in ``allOf`` members (checked by ``_keys`` instead)."""
    if isinstance(node, list):
        return [_open_allof(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _open_allof(v) for k, v in node.items()}
    for member in out.get("allOf", []):
        if isinstance(member, dict) and member.get("additionalProperties") is False:
            del member["additionalProperties"]
    return out


class Greenfield:
    """Validate bodies against BTCPay's own component schemas (``$ref`` within the file).

    JSON Schema's ``allOf`` with ``additionalProperties: false`` in a member
    would reject the members' own fields, so those are opened and unknown keys
    are checked separately against every property the schema's closure names.
    """

    def __init__(self) -> None:
        raw = json.loads(REFERENCE.read_text())
        self.raw = raw
        doc = _open_allof(_nullable(copy.deepcopy(raw)))
        for name in _allof_targets(raw):
            doc["components"]["schemas"][name].pop("additionalProperties", None)
        self.doc = doc
        self.registry: Registry = Registry().with_resource(
            "urn:greenfield", DRAFT202012.create_resource(doc)
        )

    def _props(self, schema: dict[str, Any], seen: set[str] | None = None) -> set[str] | None:
        seen = seen or set()
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name in seen:
                return set()
            return self._props(self.raw["components"]["schemas"][name], seen | {name})
        if schema.get("additionalProperties") is True:
            return None
        props = set(schema.get("properties", {}))
        for member in schema.get("allOf", []):
            sub = self._props(member, seen)
            if sub is None:
                return None
            props |= sub
        return props

    def validate(self, instance: Any, component: str) -> None:
        schema = {"$ref": f"urn:greenfield#/components/schemas/{component}"}
        validator = jsonschema.Draft202012Validator(schema, registry=self.registry)
        validator.validate(instance)
        known = self._props(self.raw["components"]["schemas"][component])
        if known is not None and isinstance(instance, dict):
            unknown = set(instance) - known
            assert not unknown, f"fields not in Greenfield {component}: {sorted(unknown)}"


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
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body})
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()
