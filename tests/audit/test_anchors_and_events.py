"""The audit chain resists a database administrator, and records sign-ins and rights changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import Client

from accounts.models import User
from audit.anchors import audit_anchor_publish, audit_anchors_verify
from audit.chain import audit_record, audit_verify
from audit.models import AuditEvent
from compliance.roles import COMPLIANCE_OFFICER

pytestmark = [pytest.mark.django_db, pytest.mark.insider]


@pytest.fixture(autouse=True)
def _anchor_dir(settings: Any, tmp_path: Path) -> None:
    settings.AUDIT_ANCHOR_DIR = tmp_path / "anchors"


def _rewrite_suffix_like_a_dba(from_seq: int) -> None:
    """Rewrite events from ``from_seq`` on and recompute every hash after them, as someone
    with database rights could: the chain alone then verifies again."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "ALTER TABLE compliance_auditevent DISABLE TRIGGER compliance_auditevent_append_only"
        )
        cursor.execute("SELECT seq, payload FROM compliance_auditevent WHERE seq >= %s ORDER BY seq",
                       [from_seq])  # fmt: skip
        rows = cursor.fetchall()
        cursor.execute("SELECT hash FROM compliance_auditevent WHERE seq = %s", [from_seq - 1])
        prev = bytes(cursor.fetchone()[0])
        for seq, payload in rows:
            fields = json.loads(payload)
            fields["data"] = {"n": 999}
            forged = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
            cursor.execute(
                "UPDATE compliance_auditevent SET payload = %s, data = %s::jsonb, prev_hash = %s,"
                " hash = sha256(%s || convert_to(%s, 'UTF8')) WHERE seq = %s RETURNING hash",
                [forged, json.dumps({"n": 999}), prev, prev, forged, seq],
            )
            prev = bytes(cursor.fetchone()[0])
        cursor.execute(
            "UPDATE compliance_auditchainhead SET last_hash = %s, prev_hash = %s WHERE id = 1",
            [prev, prev],
        )
        cursor.execute(
            "ALTER TABLE compliance_auditevent ENABLE TRIGGER compliance_auditevent_append_only"
        )


def test_a_rewritten_suffix_fools_the_chain_but_not_the_anchor() -> None:
    seqs = [audit_record(actor=None, action="test.event", data={"n": n}) for n in range(4)]
    anchor = audit_anchor_publish()
    assert anchor.seq == seqs[-1]
    assert audit_anchors_verify() == []
    _rewrite_suffix_like_a_dba(seqs[1])
    assert audit_verify() == []  # the bare hash chain was recomputed: it cannot tell
    problems = audit_anchors_verify()
    assert [p.problem for p in problems] == ["the chain was rewritten since this anchor"]
    with pytest.raises(CommandError):
        call_command("audit_verify")


def test_a_forged_anchor_line_is_caught(settings: Any) -> None:
    audit_record(actor=None, action="test.event")
    anchor = audit_anchor_publish()
    path = Path(settings.AUDIT_ANCHOR_DIR) / "anchors.jsonl"
    forged = {**anchor.__dict__, "hash_hex": "00" * 32}
    path.write_text(json.dumps(forged) + "\n")
    assert [p.problem for p in audit_anchors_verify()] == [
        "anchor seal does not match (forged anchor)"
    ]


@pytest.mark.parametrize("table", ["compliance_auditevent", "accounts_transfer"])
def test_truncate_is_refused(table: str) -> None:
    with (
        pytest.raises(DatabaseError, match="TRUNCATE"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL alatau.allow_truncate = 'off'")
        cursor.execute(f"TRUNCATE {table} CASCADE")


def test_logins_are_audited_success_and_failure(make_user: Callable[..., User]) -> None:
    user = make_user(email="login@example.kz")
    client = Client()
    client.post("/login/", {"email": "login@example.kz", "password": "wrong-password-1"})
    failed = AuditEvent.objects.filter(action="auth.login_failed").latest("seq")
    assert failed.data == {"username": "login@example.kz"}
    assert "wrong-password" not in failed.payload
    client.force_login(user)
    assert AuditEvent.objects.filter(action="auth.login", object_id=str(user.pk)).exists()


def test_rights_changes_are_audited_with_their_actor(make_user: Callable[..., User]) -> None:
    user = make_user(email="someone@alatau.kz")
    user.is_superuser = True
    user.set_password("another-long-password-2")
    user.save()
    change = AuditEvent.objects.filter(action="user.change", object_id=str(user.pk)).latest("seq")
    assert change.data["is_superuser"] == {"before": False, "after": True}
    assert change.data["password"] == "changed"
    assert "another-long-password" not in change.payload
    user.groups.add(Group.objects.get(name=COMPLIANCE_OFFICER))
    groups = AuditEvent.objects.get(action="user.groups.add", object_id=str(user.pk))
    assert groups.data == {"groups": [COMPLIANCE_OFFICER]}
    user.user_permissions.add(Permission.objects.get(codename="correct_ledger"))
    assert AuditEvent.objects.filter(action="user.permissions.add").exists()
    assert audit_verify() == []
