"""Custody errors with stable codes: what a user may read, and what the node did."""

from __future__ import annotations

from core.errors import ApplicationError, InvalidState, ServiceUnavailable, ValidationFailed


class NodeError(ApplicationError):
    """The bitcoin node refused the request."""

    code = "node_error"
    http_status = 502

    def __init__(self, message: str = "", *, rpc_code: int | None = None) -> None:
        super().__init__(message)
        self.rpc_code = rpc_code


class NodeUnavailable(ServiceUnavailable):
    """The bitcoin node is not reachable; try again later."""

    code = "node_unavailable"


class WalletNotFound(NodeError):
    """The node has no such wallet loaded (RPC -18)."""

    code = "wallet_not_found"


class NodeInvalidAddress(NodeError):
    """The node says the address is invalid (RPC -5)."""

    code = "node_invalid_address"


class NodeInsufficientFunds(NodeError):
    """The hot wallet does not hold enough bitcoin (RPC -6)."""

    code = "node_insufficient_funds"


class TxAlreadyInChain(NodeError):
    """The transaction is already in the mempool or the chain (RPC -27)."""

    code = "tx_already_known"


class TxRejected(NodeError):
    """The node rejected the transaction (RPC -26, -25)."""

    code = "tx_rejected"


class AddressInvalid(ValidationFailed):
    """The bitcoin address is not valid for this network."""

    code = "address_invalid"


class AmountInvalid(ValidationFailed):
    """The amount is not allowed for a withdrawal."""

    code = "amount_invalid"


class WithdrawalStateError(InvalidState):
    """The withdrawal is not in a state that allows this action."""

    code = "withdrawal_state"
