"""Proof of reserves: every customer's inclusion proof verifies; any tampering fails."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from tests.treasury.conftest import Treasury
from treasury import merkle
from treasury.models import ReserveLeaf, ReserveSnapshot
from treasury.services import reserve_proof, reserves_snapshot

BALANCES = [0, 1, 546, 12_345_678, 100_000_000, 7]


def _verify(proof: dict[str, Any]) -> bool:
    return merkle.proof_verify(proof)[0]


@pytest.mark.node
def test_every_customer_proof_verifies_and_tampering_fails(
    treasury: Treasury, funded_account: Callable[..., Any]
) -> None:
    accounts = [funded_account()]
    treasury.deposit(accounts[0], 40_000_000)
    accounts += [funded_account(amount) for amount in BALANCES]
    snapshot = reserves_snapshot()
    total = 40_000_000 + sum(BALANCES)
    assert (snapshot.total_sats, snapshot.leaf_count) == (total, len(accounts))
    assert snapshot.assets_total_sats == 40_000_000
    assert [a["wallet"] for a in snapshot.assets] == [treasury.hot_name]

    for account in accounts:
        proof = reserve_proof(snapshot=snapshot, account=account)
        assert _verify(proof), account.number
        assert proof["root"] == {"hash": snapshot.root_hash, "sum": total}
        richer = copy.deepcopy(proof)
        richer["leaf"]["balance_sats"] += 1
        assert not _verify(richer)
        if proof["path"]:
            forged = copy.deepcopy(proof)
            first = forged["path"][0]
            first["hash"] = ("0" if first["hash"][0] != "0" else "1") + first["hash"][1:]
            assert not _verify(forged)
            hidden = copy.deepcopy(proof)
            hidden["path"][-1]["sum"] -= 1  # a sibling claiming less than it holds
            assert not _verify(hidden)
    salts = set(ReserveLeaf.objects.filter(snapshot=snapshot).values_list("salt", flat=True))
    assert len(salts) == len(accounts)
    call_command("reserves_snapshot")
    assert ReserveSnapshot.objects.count() == 2


@pytest.mark.node
def test_customer_downloads_proof_and_checks_it_offline(
    treasury: Treasury, funded_account: Callable[..., Any], tmp_path: Path
) -> None:
    mine = funded_account(250_000)
    for amount in (1_000, 2_000, 3_000):
        funded_account(amount)
    reserves_snapshot()
    client = Client()
    client.force_login(mine.owner)
    assert client.get("/reserves/").status_code == 200
    response = client.get("/reserves/proof/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    proof = json.loads(response.content)
    assert proof["leaf"]["account"] == mine.number and proof["leaf"]["balance_sats"] == 250_000

    good = tmp_path / "proof.json"
    good.write_text(json.dumps(proof))
    bad = tmp_path / "bad.json"
    proof["leaf"]["balance_sats"] = 250_001
    bad.write_text(json.dumps(proof))
    # Standalone: no Django settings in the environment, run as the docs say.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    run = [sys.executable, "-m", "treasury.verify_proof"]
    ok = subprocess.run([*run, str(good)], cwd=settings.BASE_DIR, env=env, capture_output=True,
                        text=True, check=False)  # fmt: skip
    assert ok.returncode == 0 and ok.stdout.startswith("OK"), ok.stderr
    failed = subprocess.run([*run, str(bad)], cwd=settings.BASE_DIR, env=env,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert failed.returncode == 1 and failed.stdout.startswith("FAILED")

    other = Client()
    other.force_login(funded_account().owner)  # not in the snapshot
    assert other.get("/reserves/proof/").status_code == 404


def test_tree_shapes_and_sums() -> None:
    for count in range(1, 9):
        salts = [f"{i:032x}" for i in range(count)]
        leaves = [merkle.Node(merkle.leaf_hash(salt_hex=s, account=f"KZ{i}", balance_sats=i * 10),
                              i * 10) for i, s in enumerate(salts)]  # fmt: skip
        tree = merkle.levels(leaves)
        root = tree[-1][0]
        assert root.sum == sum(i * 10 for i in range(count))
        for i in range(count):
            proof: dict[str, Any] = {"leaf": {"account": f"KZ{i}", "salt": salts[i], "balance_sats": i * 10},
                     "path": merkle.proof_path(tree, i),
                     "root": {"hash": root.hash.hex(), "sum": root.sum},
                     "total_sats": root.sum}  # fmt: skip
            assert _verify(proof)
            proof["total_sats"] += 1
            assert not _verify(proof)
