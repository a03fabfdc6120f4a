"""Failures of the regtest runtime, so callers can catch all of them in one place."""

from __future__ import annotations


class NodeError(RuntimeError):
    """Base class so callers can catch every failure of this module in one place."""


class NodeInstallError(NodeError):
    """Downloading or unpacking the node failed; the message carries the tool's output."""


class NodeStartError(NodeError):
    """bitcoind exited or never answered RPC; the message carries the tail of its logs."""


class RpcError(NodeError):
    """An error object returned by bitcoind (``code`` is bitcoind's, or the HTTP status)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"RPC error {code}: {message}")
        self.code = code
        self.message = message
