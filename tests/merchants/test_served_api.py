"""The merchant API through the web server ``make run`` starts (``bank/webserver.py``).

Every other API test calls Django in process. This one serves the test database with the
real gunicorn command, over a real socket, as a merchant's SDK reaches it: one kept-alive
connection for several calls, Greenfield errors as JSON, the invoice written once.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from bank import webserver
from bank.localenv import ROOT
from merchants.models import Invoice, Merchant
from merchants.services.keys import SCOPE_CREATE_INVOICE, SCOPE_VIEW_INVOICES, api_key_issue
from tests.merchants.conftest import store_url

pytestmark = pytest.mark.django_db(transaction=True)  # the server sees committed rows only


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def served() -> Iterator[int]:
    """The server on a socket this test already listens on: requests wait in its backlog
    until a worker has booted, so nothing polls for the port."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bank.settings",
        "DATABASE_URL": _database_url(),
        "ALATAU_ENV": "development",
        "DEBUG": "false",
        "SECURE_COOKIES": "false",
        "MERCHANT_INVOICE_ONCHAIN": "false",  # no node: this test is about the door
    }
    # One thread: the setting at which a sync worker (one request per connection) would
    # have been the natural choice; the command must keep connections alive anyway.
    command = webserver.command("127.0.0.1", 0, workers=1, threads=1, fd=listener.fileno())
    server = subprocess.Popen(command, cwd=ROOT, env=env, pass_fds=(listener.fileno(),))
    try:
        yield int(listener.getsockname()[1])
    finally:
        server.terminate()
        server.wait(timeout=30)
        listener.close()


def _call(conn: http.client.HTTPConnection, method: str, path: str, token: str | None,
          body: Any = None) -> tuple[int, dict[str, str], Any]:  # fmt: skip
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"token {token}"
    payload = body if isinstance(body, str) or body is None else json.dumps(body)
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(raw)


def test_an_sdk_creates_and_reads_an_invoice_over_one_kept_alive_connection(
    served: int, merchant: Merchant
) -> None:
    _, token = api_key_issue(
        merchant=merchant, label="sdk", scopes=[SCOPE_VIEW_INVOICES, SCOPE_CREATE_INVOICE],
        actor=merchant.owner,
    )  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=60)
    conn.connect()
    first_socket = conn.sock  # http.client drops it when the server says "close"
    path = store_url(merchant, "invoices")
    status, headers, created = _call(
        conn, "POST", path, token, {"amount": "0.00150000", "metadata": {"orderId": "sdk-1"}}
    )
    assert status == 200, created
    assert conn.sock is first_socket
    status, headers, read = _call(conn, "GET", f"{path}/{created['id']}", token)
    assert status == 200
    assert (read["id"], read["amount"], read["metadata"]["orderId"]) == (
        created["id"], "0.00150000", "sdk-1",
    )  # fmt: skip
    assert conn.sock is first_socket
    # Errors come back in Greenfield's shape on the same connection, never as HTML.
    status, headers, body = _call(conn, "GET", path, "f" * 40)
    assert (status, body["code"]) == (401, "unauthenticated")
    assert headers["content-type"].startswith("application/json")
    status, _, body = _call(conn, "POST", path, token, '{"amount": ')
    assert status == 422 and body[0]["message"].startswith("JSON parse error")
    status, _, body = _call(conn, "GET", "/api/v1/nothing-here", token)
    assert (status, body["code"]) == (404, "not-found")
    assert conn.sock is first_socket
    conn.close()
    assert list(Invoice.objects.filter(merchant=merchant).values_list("id", flat=True)) == [
        created["id"]
    ]
