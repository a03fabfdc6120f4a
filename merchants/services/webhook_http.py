"""Sending one webhook: to the address that was checked, within a deadline, reading little.

A merchant controls the server a webhook goes to, so the send must not let it:
- redirect the bank into its own network: the host name is resolved once, every address
  is checked (unless ``MERCHANT_WEBHOOK_ALLOW_PRIVATE``), and the connection goes to the
  checked address (TLS still verifies the certificate for the host name), so a second
  DNS answer (rebinding) is never used;
- hold a worker: the whole exchange (connect, send, status line and headers) is bounded
  by ``DEADLINE_S`` with a watchdog that closes the socket, however slowly bytes drip;
- flood it: only the status line and headers are read (BTCPay ignores the body too),
  and http.client bounds those (64 KiB a line, 100 headers).
Redirects are not followed. Nothing here touches the database.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

CONNECT_TIMEOUT_S = 3.0
DEADLINE_S = 10.0
USER_AGENT = "Alatau-Webhooks/1.0"


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    error: str
    elapsed_ms: int
    final: bool = False  # True: retrying cannot help (a malformed URL)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


def target_resolve(url: str) -> Target | str:
    """Return where to connect for ``url``, or why it must not be called."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "The URL's port is not a number."
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        return "Only absolute http and https URLs are called."
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"DNS: {exc}"
    addresses = [str(info[4][0]) for info in infos]
    if not settings.MERCHANT_WEBHOOK_ALLOW_PRIVATE:
        for text in addresses:
            address = ipaddress.ip_address(text)
            if not address.is_global or address.is_multicast:
                return f"Refused: {host} resolves to a non-public address ({address})."
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, addresses[0])


def _connect(target: Target, timeout_s: float) -> socket.socket:
    sock = socket.create_connection((target.address, target.port), timeout=timeout_s)
    if target.scheme != "https":
        return sock
    context = ssl.create_default_context()
    return context.wrap_socket(sock, server_hostname=target.host)


def _exchange(target: Target, sock: socket.socket, body: bytes, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection(target.host, target.port)
    conn.sock = sock  # already connected to the checked address
    conn.putrequest("POST", target.path, skip_host=True, skip_accept_encoding=True)
    default_port = 443 if target.scheme == "https" else 80
    conn.putheader(
        "Host", target.host if target.port == default_port else f"{target.host}:{target.port}"
    )
    for name, value in {**headers, "Content-Length": str(len(body)), "Connection": "close"}.items():
        conn.putheader(name, value)
    conn.endheaders(body)
    response = conn.getresponse()
    status = int(response.status)
    conn.close()
    return status


def webhook_send(url: str, body: bytes, headers: dict[str, str]) -> SendResult:
    """POST ``body`` to ``url`` within ``DEADLINE_S``; never raises, never follows redirects."""
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    target = target_resolve(url)
    if isinstance(target, str):
        return SendResult(None, target, 0, final=target.startswith("The URL"))
    sock: socket.socket | None = None
    watchdog: threading.Timer | None = None
    try:
        sock = _connect(target, min(CONNECT_TIMEOUT_S, DEADLINE_S))
        remaining = max(0.01, DEADLINE_S - (time.perf_counter() - started))
        sock.settimeout(remaining)
        fired = threading.Event()
        watchdog = threading.Timer(remaining, _shut, args=(sock, fired))
        watchdog.daemon = True
        watchdog.start()
        status = _exchange(target, sock, body, {"User-Agent": USER_AGENT, **headers})
        if fired.is_set():  # cut off mid-answer: whatever was parsed is not an answer
            return SendResult(None, f"No answer within {DEADLINE_S:g} s", elapsed())
        return SendResult(status, "", elapsed())
    except (OSError, http.client.HTTPException, ValueError) as exc:
        spent = elapsed()
        late = spent >= DEADLINE_S * 1000 - 50
        reason = f"No answer within {DEADLINE_S:g} s" if late else f"{type(exc).__name__}: {exc}"
        return SendResult(None, reason[:500], spent)
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if sock is not None:
            sock.close()


def _shut(sock: socket.socket, fired: threading.Event) -> None:
    """The deadline passed: end the exchange, whatever the server is doing."""
    fired.set()
    with contextlib.suppress(OSError):  # already closed: nothing to end
        sock.shutdown(socket.SHUT_RDWR)
