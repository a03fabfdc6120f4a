"""The batch ledger API: one SQL call posts many transfers atomically."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.errors import AccountFrozen, CurrencyMismatch, InsufficientFunds, SameAccount
from accounts.models import Account, AccountStatus, Transfer
from accounts.selectors import account_statement, ledger_check
from accounts.services import transfer_create
from accounts.services.transfer_batch import (
    TRANSFER_BATCH_MAX,
    SourceRef,
    TransferSpec,
    transfer_batch_create,
    transfer_batch_post,
)
from audit.chain import audit_verify
from audit.models import AuditEvent
from core.errors import IdempotencyConflict, ValidationFailed
from tests.conftest import run_threads


def _spec(debit: Account, credit: Account, amount: int, key: str | None = None,
          **extra: object) -> TransferSpec:  # fmt: skip
    return TransferSpec(
        debit_account_id=debit.pk,
        credit_account_id=credit.pk,
        amount_minor=amount,
        code="internal",
        idempotency_key=key,
        **extra,  # type: ignore[arg-type]
    )


def _posted(*accounts: Account) -> list[int]:
    return [Account.objects.get(pk=a.pk).posted_minor for a in accounts]


@pytest.mark.django_db
def test_batch_posts_every_item_in_order_with_balances_and_audit(
    funded_account: Callable[..., Account], make_user
) -> None:
    a, b, c = funded_account(1_000), funded_account(), funded_account()
    user = make_user()
    events_before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as queries:
        out = transfer_batch_create(
            transfers=[
                _spec(a, b, 100, "k1", initiator=user, memo="first"),
                _spec(b, c, 60, "k2", initiator=user),  # spends what item 1 paid in
                _spec(a, c, 40, "k3", initiator=user),
            ],
            client_address="10.0.0.7",
        )
    calls = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(calls) == 1  # one statement for the whole batch (in a savepoint here)
    assert [t.amount_minor for t in out] == [100, 60, 40]
    assert [t.pk for t in out] == sorted(t.pk for t in out)  # ids follow item order
    assert _posted(a, b, c) == [860, 40, 100]
    stored = Transfer.objects.get(pk=out[0].pk)
    assert (stored.memo, stored.currency, stored.initiator_id) == ("first", "BTC", user.pk)
    fields = [f.attname for f in Transfer._meta.concrete_fields]
    assert [getattr(out[0], f) for f in fields] == [getattr(stored, f) for f in fields]
    events = list(AuditEvent.objects.order_by("seq")[events_before:])
    assert [e.object_id for e in events] == [str(t.pk) for t in out]
    assert {e.action for e in events} == {"transfer.create"}
    assert events[0].actor_id == user.pk and events[0].client_address == "10.0.0.7"
    assert events[0].data["amount_minor"] == 100
    assert audit_verify() == []
    assert ledger_check() == []
    lines = account_statement(account=b).lines
    assert [line.balance_minor for line in lines] == [100, 40]


# The payload ledger_transfer builds (jsonb_build_object), rebuilt from the event's columns.
_JSONB_PAYLOAD = """
    SELECT e.seq, e.payload, jsonb_build_object('created_at', to_json(e.created_at),
           'actor_id', e.actor_id, 'actor_label', e.actor_label, 'action', e.action,
           'object_type', e.object_type, 'object_id', e.object_id,
           'client_address', host(e.client_address), 'data', e.data)::text
      FROM compliance_auditevent e WHERE e.seq > %s ORDER BY e.seq
"""


@pytest.mark.django_db
@pytest.mark.parametrize("client_address", [None, "2001:db8::7"])
def test_batch_payloads_are_byte_for_byte_those_of_a_single_transfer(
    client_address: str | None, funded_account: Callable[..., Account], make_user
) -> None:
    a, b = funded_account(10**12), funded_account()
    odd = make_user(email='O\'Brien "Q" \\ Ölşen\t@пример.kz')
    kzt_a, kzt_b = funded_account(10**9, "KZT"), funded_account(currency="KZT")
    seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    transfer_create(debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=7,
                    code="internal", initiator=odd, client_address=client_address)  # fmt: skip
    out = transfer_batch_create(
        transfers=[
            _spec(a, b, 7, "p1", initiator=odd),
            _spec(a, b, 10**11, "p2"),  # no initiator: "system", actor_id null
            _spec(kzt_a, kzt_b, 123_456_789, "p3", initiator=odd),
        ],
        client_address=client_address,
    )
    with connection.cursor() as cursor:
        cursor.execute(_JSONB_PAYLOAD, [seq])
        rows = cursor.fetchall()
    assert len(rows) == 4 and [r[1] for r in rows] == [r[2] for r in rows]
    first_single, first_batch = (json.loads(r[1]) for r in rows[:2])
    for varying in ("object_id", "created_at"):
        first_single.pop(varying), first_batch.pop(varying)
    first_single["data"].pop("group_id"), first_batch["data"].pop("group_id")
    assert first_single == first_batch  # the same request, the same event
    assert [str(t.pk) for t in out] == [json.loads(r[1])["object_id"] for r in rows[1:]]
    assert audit_verify() == []


@pytest.mark.django_db
def test_post_returns_ids_and_a_source_ref_replays_its_model_form(
    funded_account: Callable[..., Account],
) -> None:
    """``transfer_batch_post`` posts as ``transfer_batch_create`` does; ids only.

    A source named by ``SourceRef`` (model, pk) is stored and fingerprinted as the
    model instance is, so a key first posted with one form replays with the other.
    """
    a, b = funded_account(1_000), funded_account()
    first = transfer_batch_create(transfers=[_spec(a, b, 10, "m1", source=b)])
    with CaptureQueriesContext(connection) as queries:
        ids = transfer_batch_post(
            transfers=[
                _spec(a, b, 10, "m1", source=SourceRef(Account, b.pk)),  # a replay
                _spec(a, b, 25, "m2", source=SourceRef(Account, a.pk)),
            ]
        )
    assert len([q for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]) == 1
    assert ids[0] == first[0].pk and ids[1] not in (first[0].pk,)
    new = Transfer.objects.get(pk=ids[1])
    assert (new.source_type, new.source_id, new.amount_minor) == (
        first[0].source_type, str(a.pk), 25,
    )  # fmt: skip
    assert _posted(a, b) == [965, 35]
    with pytest.raises(IdempotencyConflict):  # another source under the same key
        transfer_batch_post(transfers=[_spec(a, b, 10, "m1", source=SourceRef(Account, a.pk))])
    with pytest.raises(InsufficientFunds):  # the same checks as transfer_batch_create
        transfer_batch_post(transfers=[_spec(b, a, 10**6)])
    assert transfer_batch_post(transfers=[]) == []
    assert ledger_check() == []


@pytest.mark.django_db
def test_replayed_keys_return_the_first_transfers_and_move_nothing(
    funded_account: Callable[..., Account],
) -> None:
    a, b = funded_account(1_000), funded_account()
    single = transfer_create(
        debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=7, code="internal",
        idempotency_key="s1",
    )  # fmt: skip
    first = transfer_batch_create(transfers=[_spec(a, b, 10, "x1"), _spec(a, b, 20, "x2")])
    again = transfer_batch_create(
        transfers=[_spec(a, b, 7, "s1"), _spec(a, b, 10, "x1"), _spec(a, b, 30, "x3")]
    )
    assert again[0].pk == single.pk and again[1].pk == first[0].pk
    assert again[2].pk not in {single.pk, first[0].pk, first[1].pk}
    assert _posted(a, b) == [1_000 - 7 - 10 - 20 - 30, 67]
    assert Transfer.objects.filter(idempotency_key__in=["s1", "x1", "x2", "x3"]).count() == 4
    # A batch of nothing but replays writes nothing either.
    events = AuditEvent.objects.count()
    transfer_batch_create(transfers=[_spec(a, b, 10, "x1"), _spec(a, b, 20, "x2")])
    assert AuditEvent.objects.count() == events
    assert audit_verify() == [] and ledger_check() == []


@pytest.mark.django_db
def test_key_reused_for_a_different_request_refuses_the_whole_batch(
    funded_account: Callable[..., Account],
) -> None:
    a, b = funded_account(1_000), funded_account()
    transfer_batch_create(transfers=[_spec(a, b, 10, "k")])
    with pytest.raises(IdempotencyConflict) as info:
        transfer_batch_create(transfers=[_spec(a, b, 5, "new"), _spec(a, b, 11, "k")])
    assert "transfers[1]" in info.value.fields
    assert not Transfer.objects.filter(idempotency_key="new").exists()
    assert _posted(a, b) == [990, 10]
    # ... also when the key was first used by a single transfer.
    transfer_create(debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=3,
                    code="internal", idempotency_key="one")  # fmt: skip
    with pytest.raises(IdempotencyConflict):
        transfer_batch_create(transfers=[_spec(b, a, 3, "one")])


@pytest.mark.django_db
def test_insufficient_funds_in_any_item_rolls_back_the_whole_batch(
    funded_account: Callable[..., Account],
) -> None:
    a, b, c = funded_account(100), funded_account(), funded_account(50)
    events = AuditEvent.objects.count()
    transfers = Transfer.objects.count()
    with pytest.raises(InsufficientFunds) as info:
        transfer_batch_create(
            transfers=[_spec(a, b, 60, "i1"), _spec(c, b, 50, "i2"), _spec(a, b, 41, "i3")]
        )
    assert next(iter(info.value.fields)) == "transfers[2]"
    assert _posted(a, b, c) == [100, 0, 50]
    assert (Transfer.objects.count(), AuditEvent.objects.count()) == (transfers, events)
    # Exactly the available balance passes: the check is >= 0, not > 0.
    transfer_batch_create(transfers=[_spec(a, b, 60, "i1"), _spec(a, b, 40, "i3")])
    assert _posted(a, b) == [0, 100]
    # A later credit does not pay for an earlier debit: order counts.
    with pytest.raises(InsufficientFunds):
        transfer_batch_create(transfers=[_spec(a, c, 10, "o1"), _spec(b, a, 10, "o2")])
    transfer_batch_create(transfers=[_spec(b, a, 10, "o2"), _spec(a, c, 10, "o1")])
    assert _posted(a, b, c) == [0, 90, 60]
    assert ledger_check() == []


@pytest.mark.django_db
def test_each_item_is_checked_like_a_single_transfer(
    funded_account: Callable[..., Account],
) -> None:
    a, b = funded_account(100), funded_account()
    kzt = funded_account(100, currency="KZT")
    with pytest.raises(CurrencyMismatch):
        transfer_batch_create(transfers=[_spec(a, b, 1), _spec(a, kzt, 1)])
    with pytest.raises(SameAccount):
        transfer_batch_create(transfers=[_spec(a, a, 1)])
    Account.objects.filter(pk=a.pk).update(status=AccountStatus.FROZEN)
    with pytest.raises(AccountFrozen):
        transfer_batch_create(transfers=[_spec(b, a, 0 + 1), _spec(a, b, 1)])
    frozen_ok = transfer_batch_create(transfers=[_spec(a, b, 1, allow_frozen_debit=True)])
    assert frozen_ok[0].amount_minor == 1
    for bad in (0, -5, True):
        with pytest.raises(ValidationFailed):
            transfer_batch_create(transfers=[_spec(b, a, 1), _spec(a, b, bad)])
    with pytest.raises(ValidationFailed):
        transfer_batch_create(transfers=[_spec(a, b, 1, "dup"), _spec(a, b, 2, "dup")])
    with pytest.raises(ValidationFailed):
        transfer_batch_create(transfers=[_spec(a, b, 10**17)])
    with pytest.raises(ValidationFailed):
        transfer_batch_create(transfers=[_spec(b, a, 1)] * (TRANSFER_BATCH_MAX + 1))
    assert transfer_batch_create(transfers=[]) == []
    assert _posted(a, b) == [99, 1]


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_and_singles_never_deadlock_or_overspend(
    funded_account: Callable[..., Account],
) -> None:
    accounts = [funded_account(1_000) for _ in range(6)]
    sink = funded_account()

    def work(i: int) -> object:
        rng = random.Random(i)
        if i % 3 == 0:
            d, c = rng.sample(accounts, 2)
            return transfer_create(debit_account_id=d.pk, credit_account_id=c.pk,
                                   amount_minor=rng.randint(1, 30), code="internal")  # fmt: skip
        items = []
        for n in range(20):
            d, c = rng.sample([*accounts, sink], 2)
            if d is sink:
                d, c = c, d
            items.append(_spec(d, c, rng.randint(1, 30), f"c{i}-{n}"))
        try:
            return transfer_batch_create(transfers=items)
        except InsufficientFunds as exc:
            return exc

    results = run_threads(30, work)
    unexpected = [r for r in results if not isinstance(r, list | Transfer | InsufficientFunds)]
    assert unexpected == []
    assert sum(isinstance(r, list) for r in results) >= 10
    total = sum(Account.objects.get(pk=a.pk).posted_minor for a in [*accounts, sink])
    assert total == 6_000
    assert all(Account.objects.get(pk=a.pk).available_minor >= 0 for a in accounts)
    assert ledger_check() == []
    assert audit_verify() == []


@pytest.mark.django_db(transaction=True)
def test_same_batch_from_many_threads_posts_once(funded_account: Callable[..., Account]) -> None:
    a, b = funded_account(1_000), funded_account()
    items = [_spec(a, b, n + 1, f"same-{n}") for n in range(10)]

    results = run_threads(8, lambda _: transfer_batch_create(transfers=items))
    assert all(isinstance(r, list) for r in results), results
    assert len({tuple(t.pk for t in r) for r in results}) == 1
    assert _posted(a, b) == [1_000 - 55, 55]
    assert ledger_check() == [] and audit_verify() == []
