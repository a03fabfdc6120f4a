"""Custody errors with stable codes: what a user may read, and what the node did."""

from __future__ import annotations

from enum import StrEnum

from core.errors import ApplicationError, InvalidState, ServiceUnavailable, ValidationFailed


class CustodyErrorCode(StrEnum):
    """Codes of the custody errors (the node, addresses, withdrawals)."""

    NODE_ERROR = "node_error"
    NODE_UNAVAILABLE = "node_unavailable"
    WALLET_NOT_FOUND = "wallet_not_found"
    NODE_INVALID_ADDRESS = "node_invalid_address"
    NODE_INSUFFICIENT_FUNDS = "node_insufficient_funds"
    TX_ALREADY_KNOWN = "tx_already_known"
    TX_REJECTED = "tx_rejected"
    ADDRESS_INVALID = "address_invalid"
    AMOUNT_INVALID = "amount_invalid"
    WITHDRAWAL_STATE = "withdrawal_state"


class NodeError(ApplicationError):
    """The bitcoin node refused the request."""

    code = CustodyErrorCode.NODE_ERROR
    http_status = 502

    def __init__(self, message: str = "", *, rpc_code: int | None = None) -> None:
        super().__init__(message)
        self.rpc_code = rpc_code


class NodeUnavailable(ServiceUnavailable):
    """The bitcoin node is not reachable; try again later."""

    code = CustodyErrorCode.NODE_UNAVAILABLE


class WalletNotFound(NodeError):
    """The node has no such wallet loaded (RPC -18)."""

    code = CustodyErrorCode.WALLET_NOT_FOUND


class NodeInvalidAddress(NodeError):
    """The node says the address is invalid (RPC -5)."""

    code = CustodyErrorCode.NODE_INVALID_ADDRESS


class NodeInsufficientFunds(NodeError):
    """The hot wallet does not hold enough bitcoin (RPC -6)."""

    code = CustodyErrorCode.NODE_INSUFFICIENT_FUNDS


class TxAlreadyInChain(NodeError):
    """The transaction is already in the mempool or the chain (RPC -27)."""

    code = CustodyErrorCode.TX_ALREADY_KNOWN


class TxRejected(NodeError):
    """The node rejected the transaction (RPC -26, -25)."""

    code = CustodyErrorCode.TX_REJECTED


class AddressInvalid(ValidationFailed):
    """The bitcoin address is not valid for this network."""

    code = CustodyErrorCode.ADDRESS_INVALID


class AmountInvalid(ValidationFailed):
    """The amount is not allowed for a withdrawal."""

    code = CustodyErrorCode.AMOUNT_INVALID


class WithdrawalStateError(InvalidState):
    """The withdrawal is not in a state that allows this action."""

    code = CustodyErrorCode.WITHDRAWAL_STATE
