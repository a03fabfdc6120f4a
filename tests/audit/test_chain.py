"""The audit log is append-only and its hash chain shows any tampering."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from accounts.models import Account, Transfer
from accounts.services import transfer_create
from audit.chain import audit_record, audit_verify
from audit.models import AuditEvent
from tests.conftest import run_threads

pytestmark = pytest.mark.django_db(transaction=True)


def _tamper(sql: str, params: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE compliance_auditevent DISABLE TRIGGER compliance_auditevent_append_only"
        )
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute(
                "ALTER TABLE compliance_auditevent ENABLE TRIGGER compliance_auditevent_append_only"
            )


def _some_events() -> list[int]:
    return [audit_record(actor=None, action="test.event", data={"n": n}) for n in range(5)]


def test_intact_chain_verifies() -> None:
    _some_events()
    assert audit_verify() == []
    call_command("audit_verify")


def test_trigger_refuses_update_and_delete() -> None:
    seq = _some_events()[0]
    for sql in (
        "UPDATE compliance_auditevent SET action = 'x' WHERE seq = %s",
        "DELETE FROM compliance_auditevent WHERE seq = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="immutable"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [seq])


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("UPDATE compliance_auditevent SET data = '{\"n\": 99}' WHERE seq = %s", "columns differ"),
        (
            "UPDATE compliance_auditevent SET payload = replace(payload, '\"n\":2', '\"n\":7') WHERE seq = %s",
            "payload edited",
        ),
        ("DELETE FROM compliance_auditevent WHERE seq = %s", "missing events"),
    ],
)
def test_tampering_is_detected(sql: str, problem: str) -> None:
    seqs = _some_events()
    _tamper(sql, [seqs[2]])
    breaks = audit_verify()
    assert any(problem in b.problem for b in breaks), breaks
    with pytest.raises(CommandError):
        call_command("audit_verify")


def test_concurrent_writers_keep_one_chain(funded_account: Callable[..., Account]) -> None:
    a, b = funded_account(1000), funded_account()

    def move(_: int) -> object:
        return transfer_create(
            debit_account_id=a.pk, credit_account_id=b.pk, amount_minor=1, code="internal"
        )

    before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    results = run_threads(40, move)
    failures = [r for r in results if not isinstance(r, Transfer)]
    assert failures == [], failures
    assert len({r.pk for r in results}) == 40
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    audited = set(
        AuditEvent.objects.filter(action="transfer.create", seq__gt=before).values_list(
            "object_id", flat=True
        )
    )
    assert audited == {str(r.pk) for r in results}  # one event per transfer, none lost
    assert audit_verify() == []
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.posted_minor, b.posted_minor) == (1000 - 40, 40)
