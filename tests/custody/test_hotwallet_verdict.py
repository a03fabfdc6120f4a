"""The verdict on a refused re-send of our own transaction, on the real node."""

from __future__ import annotations

from typing import Any

import pytest

from custody.hotwallet.verdict import rejected_tx_verdict
from custody.node import btc
from tests.custody.conftest import Chain

pytestmark = pytest.mark.node


def _signed(funder: Any, address: str, amount_sats: int) -> tuple[str, str, list[list[Any]]]:
    """A signed, unsent transaction from the funder: (txid, raw hex, inputs)."""
    funded = funder.call("walletcreatefundedpsbt", [], [{address: btc(amount_sats)}], 0,
                         {"lockUnspents": True})  # fmt: skip
    final = funder.call("finalizepsbt", funder.call("walletprocesspsbt", funded["psbt"])["psbt"])
    decoded = funder.call("decoderawtransaction", final["hex"])
    inputs = [[vin["txid"], vin["vout"]] for vin in decoded["vin"]]
    return decoded["txid"], final["hex"], inputs


@pytest.mark.faults
def test_verdicts_known_lost_and_retry(chain: Chain) -> None:
    funder = chain.funder
    # Never sent, inputs still unspent: worth retrying.
    txid, raw, inputs = _signed(funder, chain.new_funder_address(), 10_000)
    assert rejected_tx_verdict(funder, txid=txid, inputs=inputs) == "retry"
    # Sent (say, just before a crash) and mined: it is ours, book it.
    funder.call("sendrawtransaction", raw)
    chain.mine(1)
    assert rejected_tx_verdict(funder, txid=txid, inputs=inputs) == "known"
    # Its inputs spent by another transaction before it was ever sent: it can never confirm.
    other_txid, _, other_inputs = _signed(funder, chain.new_funder_address(), 20_000)
    funder.call("lockunspent", True, [{"txid": i[0], "vout": i[1]} for i in other_inputs])
    for outpoint in other_inputs:
        spend = funder.call(
            "createrawtransaction", [{"txid": outpoint[0], "vout": outpoint[1]}],
            [{chain.new_funder_address(): btc(5_000)}],
        )  # fmt: skip
        funder.call("sendrawtransaction", funder.call("signrawtransactionwithwallet", spend)["hex"],
                    0)  # fmt: skip
    chain.mine(1)
    assert rejected_tx_verdict(funder, txid=other_txid, inputs=other_inputs) == "lost"
