"""A standard-library JSON-RPC call to bitcoind on the loopback."""

from __future__ import annotations

import base64
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from devtools.regtest.errors import RpcError

# bitcoind talks to the loopback only; a proxy from the environment must never see it.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# What a call raises when the node is down, refuses, or answers garbage.
RPC_FAILURES = (OSError, http.client.HTTPException, ValueError)


def rpc_call(
    rpc_url: str,
    method: str,
    params: Sequence[Any] = (),
    *,
    wallet: str | None = None,
    timeout: float = 30.0,
) -> Any:
    """Call one JSON-RPC method with the standard library only.

    ``rpc_url`` is ``http://user:password@host:port``; urllib does not turn userinfo into
    basic auth by itself, so the header is built here.  bitcoind reports RPC errors as
    HTTP 500 with a JSON body, which is turned into :class:`RpcError`.
    """
    parts = urllib.parse.urlsplit(rpc_url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"not an http RPC URL: {parts.scheme}://{parts.hostname}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    path = "/" if wallet is None else "/wallet/" + urllib.parse.quote(wallet, safe="")
    url = f"http://{host}:{parts.port or 80}{path}"
    body = {"jsonrpc": "1.0", "id": "alatau", "method": method, "params": list(params)}
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        request.add_header("Authorization", f"Basic {token}")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            payload = response.read()
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        if not payload:
            raise RpcError(exc.code, f"HTTP {exc.code} {exc.reason}") from exc
    reply = json.loads(payload)
    error = reply.get("error")
    if error:
        raise RpcError(int(error.get("code", 0)), str(error.get("message", "")))
    return reply.get("result")
