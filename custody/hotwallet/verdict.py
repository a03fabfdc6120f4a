"""What a node's refusal of our own committed transaction means.

Every spend of the lifecycle (withdrawal batches, treasury sweeps, cold-to-hot moves)
is committed before it is sent, and re-sent with the same bytes after a crash.
When the node refuses the bytes, the answer decides whether to book, wait or
give up, and it is the same for all of them (``custody.hotwallet.lifecycle``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from custody.errors import NodeError
from custody.node import NodeClient

Verdict = Literal["known", "lost", "retry"]


def rejected_tx_verdict(
    wallet: NodeClient, *, txid: str, inputs: Iterable[Sequence[Any]]
) -> Verdict:
    """Why did the node refuse our exact bytes?

    "known": the transaction is ours and already in a block or the mempool (it was
    sent before a crash: book it); "lost": another transaction spent one of its
    inputs, so it can never confirm; "retry": e.g. the fee is too low for now.
    ``wallet`` must be a wallet the transaction touches; ``inputs`` are its
    outpoints as ``[txid, vout, ...]``.
    """
    try:
        confirmations = int(wallet.call("gettransaction", txid)["confirmations"])
    except NodeError:
        confirmations = None  # the wallet never saw it: it was never accepted anywhere
    if confirmations is not None:
        return "known" if confirmations >= 0 else "lost"
    for outpoint in inputs:
        if wallet.call("gettxout", str(outpoint[0]), int(outpoint[1]), True) is None:
            return "lost"
    return "retry"
