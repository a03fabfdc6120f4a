"""The one module that talks to bitcoind.

It owns the RPC library (python-bitcoinrpc), the URL (explicit setting, or the state file
that ``manage.py bitcoind start`` writes into ``BITCOIND_DATADIR``), wallet-scoped paths,
timeouts, the bounded retry of refused connections, the mapping of RPC error codes to
typed errors, and the conversion between bitcoind's BTC decimals and integer satoshis.
Nothing else in the project imports ``bitcoinrpc`` (a test enforces it).
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.parse
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bitcoinrpc.authproxy import AuthServiceProxy, JSONRPCException
from django.conf import settings

from core.money import btc_to_sats, format_amount
from core.node_state import STATE_FILE_NAME
from custody import errors

logger = logging.getLogger("alatau.custody.node")

RETRY_ATTEMPTS_MAX = 3  # refused connections only: nothing reached the node, so safe
RETRY_PAUSE_S = 0.2

# bitcoind's RPC error codes (src/rpc/protocol.h) -> our typed errors.
_ERROR_BY_CODE: dict[int, type[errors.NodeError]] = {
    -18: errors.WalletNotFound,
    -5: errors.NodeInvalidAddress,
    -6: errors.NodeInsufficientFunds,
    -27: errors.TxAlreadyInChain,
    -26: errors.TxRejected,
    -25: errors.TxRejected,
}
_UNAVAILABLE_CODES = {
    -28,  # warming up
    -342,  # non-JSON HTTP reply from the library: 401, 503 "work queue depth exceeded"
    -343,  # missing result
}


def btc(sats: int) -> str:
    """Satoshis as the exact decimal string bitcoind accepts for an amount (never a float)."""
    return format_amount(sats, "BTC")


def sats(value: Decimal | int | str) -> int:
    """bitcoind's BTC ``Decimal`` as integer satoshis, exactly."""
    return btc_to_sats(value)


def _url_from_datadir(datadir: str) -> str:
    state_file = Path(datadir).expanduser() / STATE_FILE_NAME
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        return str(state["rpc_url"])
    except (OSError, ValueError, KeyError, TypeError):
        raise errors.NodeUnavailable(
            "No bitcoin node is configured: BITCOIND_RPC_URL is empty and no running node "
            f"was recorded in {state_file}"
        ) from None


def node_url() -> str:
    """Return the RPC URL: ``BITCOIND_RPC_URL``, else the datadir's node state file."""
    explicit = str(getattr(settings, "BITCOIND_RPC_URL", "") or "")
    if explicit:
        return explicit
    return _url_from_datadir(str(settings.BITCOIND_DATADIR))


@dataclass(frozen=True)
class NodeClient:
    """A JSON-RPC client for one node and optionally one wallet (``/wallet/<name>``)."""

    url: str
    wallet_name: str | None = None
    timeout_s: float = 30.0
    attempts_max: int = RETRY_ATTEMPTS_MAX

    def wallet(self, name: str) -> NodeClient:
        """Return a client scoped to wallet ``name``."""
        return NodeClient(self.url, name, self.timeout_s, self.attempts_max)

    def with_timeout(self, timeout_s: float, *, attempts_max: int | None = None) -> NodeClient:
        """Return the same client with another timeout (and retry bound)."""
        attempts = self.attempts_max if attempts_max is None else attempts_max
        return NodeClient(self.url, self.wallet_name, timeout_s, attempts)

    def _service_url(self) -> str:
        base = self.url.rstrip("/")
        if self.wallet_name is None:
            return base
        return f"{base}/wallet/{urllib.parse.quote(self.wallet_name, safe='')}"

    def call(self, method: str, *params: Any) -> Any:
        """Call ``method``; map errors; retry only connections that were refused."""
        for attempt in range(1, self.attempts_max + 1):
            try:
                return self._call_once(method, params)
            except ConnectionRefusedError as exc:
                if attempt >= self.attempts_max:
                    raise errors.NodeUnavailable(f"bitcoind refused {method}: {exc}") from exc
                time.sleep(RETRY_PAUSE_S * attempt)
        raise errors.NodeUnavailable(f"bitcoind did not answer {method}")  # pragma: no cover

    def _call_once(self, method: str, params: tuple[Any, ...]) -> Any:
        proxy = AuthServiceProxy(self._service_url(), timeout=self.timeout_s)
        try:
            return getattr(proxy, method)(*params)
        except JSONRPCException as exc:
            raise _map_rpc_error(method, exc) from exc
        except ConnectionRefusedError:
            raise
        except TimeoutError as exc:
            raise errors.NodeUnavailable(f"bitcoind timed out on {method}") from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise errors.NodeUnavailable(f"bitcoind connection failed on {method}: {exc}") from exc
        finally:
            conn = getattr(proxy, "_AuthServiceProxy__conn", None)
            if conn is not None:
                conn.close()

    # ------------------------------------------------------------ typed helpers (satoshis)

    def balance_sats(self) -> int:
        """Trusted confirmed balance of this wallet."""
        return sats(self.call("getbalance"))

    def estimate_fee_rate_sat_vb(self, *, conf_target: int = 6) -> int | None:
        """Fee rate estimate in sat/vB, or None when the node has no estimate (regtest)."""
        reply = self.call("estimatesmartfee", conf_target)
        rate = reply.get("feerate")
        if rate is None:
            return None
        # feerate is BTC per kvB: sat/vB = BTC/kvB * 1e8 / 1000, rounded up.
        per_kvb_sats = sats(Decimal(rate))
        return max(1, -(-per_kvb_sats // 1000))

    def send_many(self, outputs_sats: dict[str, int]) -> str:
        """Pay several addresses in one transaction from this wallet; return the txid."""
        amounts = {address: btc(amount) for address, amount in outputs_sats.items()}
        return str(self.call("sendmany", "", amounts))

    def send_to_address(self, address: str, amount_sats: int) -> str:
        """Pay one address from this wallet; return the txid."""
        return str(self.call("sendtoaddress", address, btc(amount_sats)))


def _map_rpc_error(method: str, exc: JSONRPCException) -> errors.NodeError | errors.NodeUnavailable:
    code = int(exc.code) if exc.code is not None else 0
    message = str(exc.message or "")
    if code in _UNAVAILABLE_CODES:
        return errors.NodeUnavailable(f"bitcoind unavailable on {method}: {message}")
    if "insufficient funds" in message.lower():
        return errors.NodeInsufficientFunds(f"{method}: {message}", rpc_code=code)
    if "already known" in message or "already in block chain" in message:
        return errors.TxAlreadyInChain(f"{method}: {message}", rpc_code=code)
    error_class = _ERROR_BY_CODE.get(code, errors.NodeError)
    return error_class(f"{method}: {message} (RPC {code})", rpc_code=code)


def node_client(*, timeout_s: float | None = None) -> NodeClient:
    """Return a client for the configured node (settings read at call time)."""
    timeout = settings.BITCOIND_RPC_TIMEOUT_S if timeout_s is None else timeout_s
    return NodeClient(node_url(), timeout_s=timeout)


def hot_wallet() -> NodeClient:
    """Return a client scoped to the hot wallet."""
    return node_client().wallet(str(settings.CUSTODY_HOT_WALLET))
