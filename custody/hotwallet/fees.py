"""The miner fee rate of the bank's own transactions."""

from __future__ import annotations

from django.conf import settings

from custody.node import NodeClient

CONF_TARGET_BLOCKS = 6


def fee_rate_sat_vb(client: NodeClient) -> int:
    """Return the miner fee rate: the node's estimate within the configured floor and cap."""
    floor = int(settings.FEE_RATE_FLOOR_SAT_VB)
    cap = int(settings.FEE_RATE_CAP_SAT_VB)
    estimate = client.estimate_fee_rate_sat_vb(conf_target=CONF_TARGET_BLOCKS)
    return min(max(estimate or floor, floor), cap)
