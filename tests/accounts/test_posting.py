"""The Python posting primitives (``accounts/services/posting.py``) through holds: the
cases the mutation check (docs/testing.md) found no test for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.errors import AccountClosed, CurrencyMismatch
from accounts.models import Account, AccountStatus, Hold, HoldStatus, Transfer
from accounts.selectors import ledger_check
from accounts.services import holds as holds_service
from accounts.services import system_account
from accounts.services.holds import Leg, hold_create, hold_expire_due, hold_post, hold_void
from accounts.services.posting import check_key, request_hash
from audit.models import AuditEvent
from core.errors import IdempotencyConflict, InvalidState, ValidationFailed
from tests.conftest import run_threads

pytestmark = pytest.mark.django_db


def test_request_fingerprint_ignores_field_order() -> None:
    assert request_hash({"a": 1, "b": "x"}) == request_hash({"b": "x", "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": 2})


@pytest.mark.parametrize("key", ["k", "k" * 128, "any printable: ü ж 1"])
def test_idempotency_key_bounds_accept(key: str) -> None:
    check_key(key)


@pytest.mark.parametrize("key", ["", "k" * 129, "tab\there", "new\nline"])
def test_idempotency_key_bounds_refuse(key: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_key(key)
    assert "idempotency_key" in refused.value.fields


def test_a_reused_key_conflicts_whatever_the_other_request(
    funded_account: Callable[..., Account],
) -> None:
    account = funded_account(10_000)
    first = hold_create(account_id=account.pk, amount_minor=100, code="withdrawal",
                        idempotency_key="same", initiator=account.owner)  # fmt: skip
    for amount in range(101, 113):  # twelve other requests: whichever way their hash sorts
        with pytest.raises(IdempotencyConflict):
            hold_create(account_id=account.pk, amount_minor=amount, code="withdrawal",
                        idempotency_key="same", initiator=account.owner)  # fmt: skip
    again = hold_create(account_id=account.pk, amount_minor=100, code="withdrawal",
                        idempotency_key="same", initiator=account.owner)  # fmt: skip
    assert again.pk == first.pk


def test_hold_post_refuses_another_currency_both_ways(
    funded_account: Callable[..., Account],
) -> None:
    btc, kzt = funded_account(1_000), funded_account(1_000, "KZT")
    for source, target in ((btc, kzt), (kzt, btc)):
        hold = hold_create(account_id=source.pk, amount_minor=100, code="withdrawal")
        with pytest.raises(CurrencyMismatch):
            hold_post(hold_id=hold.pk, legs=[Leg(target.pk, 100, "withdrawal")])
    assert Transfer.objects.filter(code="withdrawal").count() == 0


def test_hold_post_credits_a_frozen_account_but_not_a_closed_one(
    funded_account: Callable[..., Account],
) -> None:
    payer, frozen, closed = funded_account(1_000), funded_account(), funded_account()
    Account.objects.filter(pk=frozen.pk).update(status=AccountStatus.FROZEN)
    Account.objects.filter(pk=closed.pk).update(status=AccountStatus.CLOSED)
    to_closed = hold_create(account_id=payer.pk, amount_minor=100, code="withdrawal")
    with pytest.raises(AccountClosed):
        hold_post(hold_id=to_closed.pk, legs=[Leg(closed.pk, 100, "internal")])
    to_frozen = hold_create(account_id=payer.pk, amount_minor=1, code="withdrawal")
    hold_post(hold_id=to_frozen.pk, legs=[Leg(frozen.pk, 1, "internal")])  # the smallest unit
    frozen.refresh_from_db()
    assert frozen.posted_minor == 1  # money may arrive on a frozen account, not leave it
    assert ledger_check() == []


def test_posting_truncates_the_memo_and_bumps_each_version_once(
    funded_account: Callable[..., Account],
) -> None:
    payer = funded_account(1_000)
    hot = system_account("custody_hot", "BTC")
    payer.refresh_from_db()
    hot.refresh_from_db()
    versions = (payer.version, hot.version)
    hold = hold_create(account_id=payer.pk, amount_minor=300, code="withdrawal")
    payer.refresh_from_db()
    versions = (payer.version, versions[1])
    hold_post(hold_id=hold.pk, legs=[Leg(hot.pk, 300, "withdrawal", memo="m" * 300)])
    transfer = Transfer.objects.get(code="withdrawal")
    assert transfer.memo == "m" * 255
    payer.refresh_from_db()
    hot.refresh_from_db()
    # One bump per write: the payer's hold release and its debit, the credit of hot.
    assert (payer.version, hot.version) == (versions[0] + 2, versions[1] + 1)


@pytest.mark.django_db(transaction=True)
def test_concurrent_holds_with_one_key_make_one_hold(
    funded_account: Callable[..., Account],
) -> None:
    first = funded_account(10_000)
    second = funded_account(10_000, owner=first.owner)  # another account: another row lock

    def hold(i: int) -> Hold:
        return hold_create(account_id=(first, second)[i % 2].pk, amount_minor=1_000,
                           code="withdrawal", idempotency_key="race",
                           initiator=first.owner)  # fmt: skip

    results = run_threads(8, hold)
    made = Hold.objects.get()  # one key, one hold, whoever won
    for result in results:  # the same request replays it; the other is a clear conflict
        assert (isinstance(result, Hold) and result.pk == made.pk) or isinstance(
            result, IdempotencyConflict
        ), results
    assert sum(isinstance(r, Hold) for r in results) == 4
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.held_minor + second.held_minor == 1_000


def test_an_expired_hold_can_be_neither_posted_nor_voided(
    funded_account: Callable[..., Account],
) -> None:
    account = funded_account(1_000)
    hot = system_account("custody_hot", "BTC")
    hold = hold_create(account_id=account.pk, amount_minor=100, code="withdrawal",
                       expires_at=timezone.now() - timedelta(seconds=1))  # fmt: skip
    assert hold_expire_due() == 1
    with pytest.raises(InvalidState):
        hold_post(hold_id=hold.pk, legs=[Leg(hot.pk, 100, "withdrawal")])
    assert hold_void(hold_id=hold.pk).status == HoldStatus.EXPIRED  # already closed: unchanged
    account.refresh_from_db()
    assert (account.posted_minor, account.held_minor) == (1_000, 0)


def test_hold_post_leg_bounds(funded_account: Callable[..., Account]) -> None:
    account = funded_account(1_000)
    hot = system_account("custody_hot", "BTC")
    hold = hold_create(account_id=account.pk, amount_minor=300, code="withdrawal",
                       memo="payout 7")  # fmt: skip
    for bad in ([Leg(hot.pk, 0, "withdrawal")], [Leg(hot.pk, -1, "withdrawal")],
                [Leg(hot.pk, 300, "withdrawal"), Leg(hot.pk, 1, "fee")]):  # fmt: skip
        with pytest.raises(ValidationFailed):
            hold_post(hold_id=hold.pk, legs=bad)
    # The whole hold, in legs as small as one unit, is fine; a leg without a memo
    # carries the hold's.
    hold_post(hold_id=hold.pk, legs=[Leg(hot.pk, 299, "withdrawal"), Leg(hot.pk, 1, "fee")])
    assert sorted(
        Transfer.objects.filter(debit_account=account).values_list("amount_minor", "memo")
    ) == [
        (1, "payout 7"),
        (299, "payout 7"),
    ]
    event = AuditEvent.objects.filter(action="hold.post").get()
    assert (event.data["posted_minor"], event.data["released_minor"]) == (300, 0)
    account.refresh_from_db()
    assert (account.posted_minor, account.held_minor) == (700, 0)


def test_a_hold_on_an_account_frozen_since_still_posts(
    funded_account: Callable[..., Account],
) -> None:
    account = funded_account(1_000)
    hot = system_account("custody_hot", "BTC")
    hold = hold_create(account_id=account.pk, amount_minor=400, code="withdrawal")
    Account.objects.filter(pk=account.pk).update(status=AccountStatus.FROZEN)
    hold_post(hold_id=hold.pk, legs=[Leg(hot.pk, 250, "withdrawal")])  # reserved before
    event = AuditEvent.objects.filter(action="hold.post").get()
    assert event.data["released_minor"] == 150
    account.refresh_from_db()
    assert (account.posted_minor, account.held_minor) == (750, 0)
    assert ledger_check() == []


def test_hold_create_truncates_its_memo_and_bumps_the_version_once(
    funded_account: Callable[..., Account],
) -> None:
    account = funded_account(1_000)
    account.refresh_from_db()
    before = account.version
    hold = hold_create(account_id=account.pk, amount_minor=100, code="withdrawal",
                       memo="h" * 300)  # fmt: skip
    hold.refresh_from_db()
    assert hold.memo == "h" * 255
    account.refresh_from_db()
    assert (account.version, account.held_minor) == (before + 1, 100)


def test_a_hold_posted_while_the_sweep_expires_it_stays_posted_and_the_sweep_goes_on(
    funded_account: Callable[..., Account], monkeypatch: pytest.MonkeyPatch
) -> None:
    account = funded_account(1_000)
    hot = system_account("custody_hot", "BTC")
    # Long past, and the sweep asked about then only: no other test's holds are due.
    then = timezone.now() - timedelta(days=3650)
    posted, *later = [
        hold_create(
            account_id=account.pk,
            amount_minor=100,
            code="withdrawal",
            expires_at=then + timedelta(seconds=i),
        )
        for i in range(3)
    ]
    void = holds_service.hold_void

    def post_lands_first(*, hold_id: int, **kwargs: Any) -> Hold:
        # The race: the payout posts the first hold after the sweep read it as due and
        # before the sweep's void takes its row lock (the real post, then the real void).
        if hold_id == posted.pk:
            hold_post(hold_id=hold_id, legs=[Leg(hot.pk, 100, "withdrawal")])
        return void(hold_id=hold_id, **kwargs)

    monkeypatch.setattr(holds_service, "hold_void", post_lands_first)
    assert hold_expire_due(now=then + timedelta(seconds=10)) == 2  # the post won; the rest expired
    statuses = [Hold.objects.get(pk=h.pk).status for h in (posted, *later)]
    assert statuses == [HoldStatus.POSTED, HoldStatus.EXPIRED, HoldStatus.EXPIRED]
    account.refresh_from_db()
    assert (account.posted_minor, account.held_minor) == (900, 0)
    assert ledger_check() == []
