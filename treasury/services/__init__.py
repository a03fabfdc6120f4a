"""Every write of the treasury, split by concept, re-exported here."""

from treasury.services.cold import (
    cold_signer_create,
    cold_signer_sign,
    cold_wallet_setup,
)
from treasury.services.descriptors import (
    cold_address_pinned,
    cold_descriptors_activate,
    cold_descriptors_propose,
)
from treasury.services.moves import (
    cold_move_approve,
    cold_move_broadcast,
    cold_move_psbt_build,
    cold_move_psbt_download,
    cold_move_psbt_submit,
    cold_move_reject,
    cold_move_request,
    cold_moves_broadcast,
    cold_moves_confirm,
)
from treasury.services.reconcile import reconcile
from treasury.services.reserves import reserve_proof, reserves_snapshot
from treasury.services.sweeps import (
    hot_bounds,
    sweep_create,
    sweeps_broadcast,
    sweeps_confirm,
    treasury_rebalance,
)

__all__ = [
    "cold_address_pinned",
    "cold_descriptors_activate",
    "cold_descriptors_propose",
    "cold_move_approve",
    "cold_move_broadcast",
    "cold_move_psbt_build",
    "cold_move_psbt_download",
    "cold_move_psbt_submit",
    "cold_move_reject",
    "cold_move_request",
    "cold_moves_broadcast",
    "cold_moves_confirm",
    "cold_signer_create",
    "cold_signer_sign",
    "cold_wallet_setup",
    "hot_bounds",
    "reconcile",
    "reserve_proof",
    "reserves_snapshot",
    "sweep_create",
    "sweeps_broadcast",
    "sweeps_confirm",
    "treasury_rebalance",
]
