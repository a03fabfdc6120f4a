"""The one retry policy (core.tasks.retrying_task) is what the node-bound tasks use."""

from __future__ import annotations

from typing import Any

import pytest

from core.tasks import BACKOFF_MAX_S, BACKOFF_S, RETRIES_MAX, retrying_task
from custody import tasks as custody_tasks
from custody.errors import NodeUnavailable
from treasury import tasks as treasury_tasks

NODE_TASKS = [
    custody_tasks.deposit_scan,
    custody_tasks.withdrawal_batch,
    custody_tasks.withdrawal_broadcast,
    custody_tasks.withdrawal_confirm,
    treasury_tasks.treasury_rebalance,
    treasury_tasks.treasury_reconcile,
    treasury_tasks.treasury_reserves_snapshot,
]


@pytest.mark.parametrize("task", NODE_TASKS, ids=lambda t: t.name)
def test_node_tasks_retry_on_the_node_only_and_bounded(task: Any) -> None:
    assert task.autoretry_for == (NodeUnavailable,)
    assert task.max_retries == RETRIES_MAX
    assert task.retry_backoff == BACKOFF_S
    assert task.retry_backoff_max == BACKOFF_MAX_S
    assert task.retry_jitter is True
    module = task.__module__.removesuffix(".tasks")
    assert task.name.startswith(f"{module}.tasks.")


def test_a_retry_policy_names_what_it_retries() -> None:
    with pytest.raises(ValueError):
        retrying_task()
