"""The suite's own helpers hold to what they promise (a harness that lies hides bugs)."""

from __future__ import annotations

import os
import shutil
import threading

import pytest

from tests.conftest import RaceBroken, chromium_path, run_threads


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    real_exists = os.path.exists
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(
        os.path, "exists", lambda p: False if "chromium" in str(p) else real_exists(p)
    )


def test_missing_chromium_fails_in_ci(no_chromium: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        chromium_path()


def test_missing_chromium_skips_locally(no_chromium: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        chromium_path()


def test_chromium_on_path_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: "/opt/chromium/chromium")
    assert chromium_path() == "/opt/chromium/chromium"


def test_run_threads_returns_every_result_in_order() -> None:
    assert run_threads(5, lambda i: i * i) == [0, 1, 4, 9, 16]


def test_run_threads_fails_when_the_start_barrier_breaks(monkeypatch: pytest.MonkeyPatch) -> None:
    real = threading.Barrier
    # One party more than there are threads: the barrier can never fill, as under load
    # when a thread does not arrive in time; the run must fail, not quietly go serial.
    monkeypatch.setattr(threading, "Barrier", lambda parties: real(parties + 1))
    with pytest.raises(RaceBroken, match="only 3 of 3 threads"):
        run_threads(3, lambda i: i, start_timeout_s=0.5)
