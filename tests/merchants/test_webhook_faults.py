"""A merchant's server cannot stall, flood or redirect the bank's webhook sender."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from merchants.errors import WebhookUrlInvalid
from merchants.models import DeliveryStatus, Merchant, WebhookDelivery
from merchants.services import webhook_http
from merchants.services.webhook_http import target_resolve, webhook_send
from merchants.services.webhooks import webhook_create, webhook_delivery_attempt

pytestmark = [pytest.mark.django_db, pytest.mark.faults]


class RawServer:
    """A loopback TCP server that answers each connection with ``behaviour(sock)``."""

    def __init__(self, behaviour: Any) -> None:
        self.behaviour = behaviour
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            self.accepted += 1
            with conn:
                conn.recv(65536)  # the request
                # OSError: the client hung up (as it should, at its deadline).
                with contextlib.suppress(OSError):
                    self.behaviour(conn, self.stop)

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(5)


def _drip(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    # A header byte every 0.1 s for at most a minute, never finishing: the server's pace,
    # not a test waiting (the wait ends at once when the test stops the server).
    for _ in range(600):
        conn.sendall(b"X")
        if stop.wait(0.1):
            return


def _huge(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
    chunk = b"x" * 65536
    for _ in range(16384):  # up to 1 GiB, until the client stops reading
        if stop.is_set():
            return
        conn.sendall(chunk)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[RawServer]:
    made = RawServer(request.param)
    yield made
    made.close()


@pytest.fixture
def private_ok(settings: Any) -> None:
    settings.MERCHANT_WEBHOOK_ALLOW_PRIVATE = True  # the loopback receivers below


@pytest.mark.parametrize("server", [_drip], indirect=True)
def test_a_drip_fed_reply_is_cut_at_the_deadline(
    server: RawServer, private_ok: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook_http, "DEADLINE_S", 1.5)
    started = time.perf_counter()
    result = webhook_send(f"http://127.0.0.1:{server.port}/hook", b"{}", {})
    took = time.perf_counter() - started
    assert result.status_code is None
    assert "No answer within" in result.error
    assert took < 3.0  # the whole exchange, not each read


@pytest.mark.parametrize("server", [_huge], indirect=True)
def test_a_huge_reply_is_not_read(server: RawServer, private_ok: None) -> None:
    started = time.perf_counter()
    result = webhook_send(f"http://127.0.0.1:{server.port}/hook", b"{}", {})
    assert result.status_code == 200 and result.error == ""
    assert time.perf_counter() - started < 3.0


def test_the_checked_address_is_the_one_connected(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a second answer pointing inside is never asked for, never used."""
    settings.MERCHANT_WEBHOOK_ALLOW_PRIVATE = False
    answers = iter(["93.184.216.34", "127.0.0.1"])  # public first, then loopback
    calls: list[str] = []

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    connected: list[tuple[str, int]] = []

    def connect(address: tuple[str, int], timeout: float) -> socket.socket:
        connected.append(address)
        raise OSError("no network in tests")  # never send anything anywhere

    monkeypatch.setattr(webhook_http.socket, "getaddrinfo", resolve)
    monkeypatch.setattr(webhook_http.socket, "create_connection", connect)
    result = webhook_send("http://shop.example/hook", b"{}", {})
    assert calls == ["shop.example"]
    assert connected == [("93.184.216.34", 80)]
    assert result.status_code is None


def test_private_answers_are_refused(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.MERCHANT_WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setattr(
        webhook_http.socket, "getaddrinfo",
        lambda host, port, *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))],
    )  # fmt: skip
    assert "non-public address" in str(target_resolve("https://shop.example/hook"))


def test_a_port_that_is_not_a_number_is_refused_then_never_retried(
    merchant: Merchant, private_ok: None
) -> None:
    with pytest.raises(WebhookUrlInvalid):
        webhook_create(merchant=merchant, url="http://h:abc/", secret=None, actor=merchant.owner)
    # A row stored before the check existed fails once, finally, instead of forever.
    hook = webhook_create(merchant=merchant, url="http://127.0.0.1:9/x", secret=None,
                          actor=merchant.owner)  # fmt: skip
    type(hook).objects.filter(pk=hook.pk).update(url="http://h:abc/")
    delivery = WebhookDelivery.objects.create(id="d-badport", webhook=hook, event_type="InvoiceCreated",
                                              body="{}")  # fmt: skip
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempt_count == 1
    call_command("ledger_check")


@pytest.mark.django_db(transaction=True)
def test_no_transaction_is_open_while_the_merchant_answers(
    merchant: Merchant, private_ok: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []

    def send(url: str, body: bytes, headers: dict[str, str]) -> webhook_http.SendResult:
        seen.append(connection.in_atomic_block)
        return webhook_http.SendResult(200, "", 1)

    monkeypatch.setattr("merchants.services.webhooks.webhook_send", send)
    hook = webhook_create(merchant=merchant, url="http://127.0.0.1:9/x", secret=None,
                          actor=merchant.owner)  # fmt: skip
    delivery = WebhookDelivery.objects.create(id="d-nolock", webhook=hook, event_type="InvoiceCreated",
                                              body="{}")  # fmt: skip
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None
    assert seen == [False]  # no transaction (so no row lock) while the merchant's server answers
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.HTTP_SUCCESS
