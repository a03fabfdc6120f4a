"""The daily audit check alerts (ERROR log and a case) when the chain is broken."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.db import connection

from audit.chain import audit_record
from compliance.models import Case
from compliance.tasks import audit_verify_daily

pytestmark = pytest.mark.django_db


def test_scheduled_daily() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["compliance-audit-verify-daily"]
    assert entry["task"] == "compliance.tasks.audit_verify_daily"


def test_intact_chain_opens_nothing() -> None:
    audit_record(actor=None, action="test.event")
    assert audit_verify_daily() == 0
    assert not Case.objects.filter(subject_type="audit.auditchainhead").exists()


def test_tampered_row_is_detected_and_alerted(caplog: pytest.LogCaptureFixture) -> None:
    seqs = [audit_record(actor=None, action="test.event", data={"n": n}) for n in range(3)]
    with connection.cursor() as cursor:
        # Inside the test's transaction deferred FK checks are pending; run them first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "ALTER TABLE compliance_auditevent DISABLE TRIGGER compliance_auditevent_append_only"
        )
        cursor.execute(
            "UPDATE compliance_auditevent SET action = 'forged' WHERE seq = %s", [seqs[1]]
        )
        cursor.execute(
            "ALTER TABLE compliance_auditevent ENABLE TRIGGER compliance_auditevent_append_only"
        )
    with caplog.at_level(logging.ERROR, logger="alatau.compliance"):
        assert audit_verify_daily() >= 1
    assert any(r.levelno == logging.ERROR and "BROKEN" in r.getMessage() for r in caplog.records)
    case = Case.objects.get(subject_type="audit.auditchainhead", status="open")
    assert any(f["seq"] == seqs[1] for f in case.findings)
    # A second run while the case is open adds no second case.
    audit_verify_daily()
    assert Case.objects.filter(subject_type="audit.auditchainhead").count() == 1
