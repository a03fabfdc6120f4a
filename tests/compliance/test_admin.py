"""The staff admin renders and works for each role, behind OTP, through the services."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Identity, User
from accounts.services import transfer_create
from audit.models import AuditEvent
from compliance.models import ApprovalRequest, Case, RuleConfig, SanctionedAddress, TierLimit
from compliance.roles import AUDITOR, COMPLIANCE_OFFICER, CUSTODY_OPERATOR, SUPPORT
from compliance.services import approval_approve, case_close, case_open
from tests.compliance.conftest import otp_client, regtest_address

pytestmark = pytest.mark.django_db

PAGES = {
    "index": ("admin:index", []),
    "cases": ("admin:compliance_case_changelist", []),
    "case": ("admin:compliance_case_change", ["case"]),
    "identities": ("admin:accounts_identity_changelist", []),
    "identity": ("admin:accounts_identity_change", ["identity"]),
    "audit": ("admin:audit_auditevent_changelist", []),
    "audit_event": ("admin:audit_auditevent_change", ["event"]),
    "approvals": ("admin:compliance_approvalrequest_changelist", []),
    "rules": ("admin:compliance_ruleconfig_changelist", []),
    "sanctions": ("admin:compliance_sanctionedaddress_changelist", []),
    "sanctions_import": ("admin:compliance_sanctionedaddress_import", []),
    "limits": ("admin:compliance_tierlimit_changelist", []),
    "reports": ("admin:reports", []),
}
ALL = set(PAGES)
EXPECTED_OK = {
    COMPLIANCE_OFFICER: ALL,
    AUDITOR: ALL - {"sanctions_import"},
    SUPPORT: {"index", "cases", "case", "identities", "identity"},
    CUSTODY_OPERATOR: {"index", "cases", "case", "approvals", "reports"},
}


@pytest.fixture
def world(funded_account: Callable[..., Account], settings: Any, tmp_path: Any) -> dict[str, Any]:
    settings.MEDIA_ROOT = str(tmp_path)
    account = funded_account(50_000)
    assert account.owner is not None
    identity = Identity.objects.create(
        user=account.owner,
        full_name="Aigerim Sadykova",
        iin="900101300011",
        address="Almaty, Abay avenue 1",
        status="submitted",
        submitted_at=timezone.now(),
    )
    identity.document.save("passport.pdf", ContentFile(b"%PDF-1.4 test document"), save=True)
    case = case_open(
        kind="other",
        subject=account,
        summary="odd pattern",
        findings=[{"rule": "velocity", "action": "review", "detail": "x", "count": 11}],
        customer=account.owner,
        amount_minor=50_000,
        currency="BTC",
    )
    return {
        "account": account,
        "identity": identity,
        "case": case,
        "event": AuditEvent.objects.order_by("-seq").first(),
    }


def url_of(name: str, world: dict[str, Any]) -> str:
    route, args = PAGES[name]
    return reverse(route, args=[world[a].pk for a in args])


def test_admin_requires_a_verified_otp_device(staff: Callable[..., User]) -> None:
    officer = staff(COMPLIANCE_OFFICER)
    client = Client()
    client.force_login(officer, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    login = client.get(response["Location"])
    assert b"otp_token" in login.content
    assert otp_client(officer).get(reverse("admin:index")).status_code == 200


@pytest.mark.parametrize("role", [COMPLIANCE_OFFICER, AUDITOR, SUPPORT, CUSTODY_OPERATOR])
def test_pages_by_role(role: str, staff: Callable[..., User], world: dict[str, Any]) -> None:
    client = otp_client(staff(role))
    seen = {}
    for name in PAGES:
        seen[name] = client.get(url_of(name, world)).status_code
    ok = {name for name, status in seen.items() if status == 200}
    assert ok == EXPECTED_OK[role], seen
    assert all(status in (200, 302, 403) for status in seen.values()), seen


def test_index_counters(staff: Callable[..., User], world: dict[str, Any]) -> None:
    response = otp_client(staff(COMPLIANCE_OFFICER)).get(reverse("admin:index"))
    counters = response.context["counters"]
    assert counters["open_cases"] == 1 and counters["kyc_awaiting"] == 1
    assert counters["reconciliation"] == "none yet"
    assert b'id="counter-open-cases">1<' in response.content


def test_case_page_shows_the_facts(staff: Callable[..., User], world: dict[str, Any]) -> None:
    response = otp_client(staff(COMPLIANCE_OFFICER)).get(url_of("case", world))
    body = response.content.decode()
    for fact in (
        "velocity",
        "count=11",
        world["account"].number,
        "Aigerim Sadykova",
        "case.open",
        'id="case-decide"',
    ):
        assert fact in body


def test_case_work_through_the_admin(staff: Callable[..., User], world: dict[str, Any]) -> None:
    officer = staff(COMPLIANCE_OFFICER)
    client = otp_client(officer)
    case: Case = world["case"]
    client.post(reverse("admin:compliance_case_note", args=[case.pk]), {"text": "called customer"})
    changelist = reverse("admin:compliance_case_changelist")
    client.post(changelist, {"action": "take", "_selected_action": [case.pk], "index": 0})
    # A decision without a reason is refused.
    client.post(
        changelist,
        {"action": "close_suspicious", "_selected_action": [case.pk], "index": 0, "reason": ""},
    )
    case.refresh_from_db()
    assert case.status == "in_review" and case.assignee == officer
    client.post(
        changelist,
        {
            "action": "close_suspicious",
            "_selected_action": [case.pk],
            "index": 0,
            "reason": "structuring confirmed",
        },
    )
    case.refresh_from_db()
    assert (case.status, case.decision, case.decided_by) == ("closed", "suspicious", officer)
    assert case.notes.get().text == "called customer"
    # Freezing acts at once.
    client.post(
        changelist,
        {
            "action": "freeze_customer",
            "_selected_action": [case.pk],
            "index": 0,
            "reason": "SAR filed",
        },
    )
    assert Account.objects.get(pk=world["account"].pk).status == "frozen"


def test_case_filters(staff: Callable[..., User], world: dict[str, Any]) -> None:
    officer = staff(COMPLIANCE_OFFICER)
    client = otp_client(officer)
    url = reverse("admin:compliance_case_changelist")
    now = timezone.now()

    def case(summary: str, **fields: Any) -> int:
        made = case_open(
            kind=fields.pop("kind", "other"), subject=world["account"], summary=summary
        )
        Case.objects.filter(pk=made.pk).update(**fields)
        return made.pk

    fresh_small = world["case"].pk  # opened now, 50 000 sats
    Case.objects.filter(pk=fresh_small).update(amount_kzt_tiyn=99_999_99)
    two_days = case("two days", created_at=now - timedelta(days=2), amount_kzt_tiyn=100_000_00)
    week_old = case("eight days", created_at=now - timedelta(days=8), amount_kzt_tiyn=10_000_000_00)
    closed = case("closed", kind="kyc", amount_kzt_tiyn=9_999_999_99)
    case_close(actor=officer, case_id=closed, decision="cleared", reason="documents fine")
    mine = case("mine", status="in_review", assignee=officer)

    def listed(query: str) -> set[int]:
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200, query
        return {c.pk for c in response.context["cl"].result_list}

    everything = {fresh_small, two_days, week_old, closed, mine}
    assert listed("") == everything
    assert listed("status__exact=open") == {fresh_small, two_days, week_old}
    assert listed("state=active") == everything - {closed}
    assert listed("state=mine") == {mine}
    assert listed("kind__exact=kyc") == {closed}
    assert listed("kind__exact=other") == everything - {closed}
    assert listed("age=1") == {fresh_small, closed, mine}
    assert listed("age=3") == {two_days}
    assert listed("age=7") == set()
    assert listed("age=old") == {week_old}
    assert listed("kzt=s") == {fresh_small}  # below 100 000.00 KZT, edge excluded
    assert listed("kzt=m") == {two_days}  # from exactly 100 000.00 KZT
    assert listed("kzt=l") == {closed}
    assert listed("kzt=xl") == {week_old}
    assert listed(f"assignee__id__exact={officer.pk}") == {mine}


def test_kyc_review_and_document(staff: Callable[..., User], world: dict[str, Any]) -> None:
    identity: Identity = world["identity"]
    officer = staff(COMPLIANCE_OFFICER)
    client = otp_client(officer)
    document = client.get(reverse("admin:accounts_identity_document", args=[identity.pk]))
    assert document.status_code == 200
    assert b"".join(document.streaming_content) == b"%PDF-1.4 test document"  # type: ignore[attr-defined]
    assert AuditEvent.objects.filter(action="identity.document_view", actor=officer).exists()
    support = otp_client(staff(SUPPORT))
    assert (
        support.get(reverse("admin:accounts_identity_document", args=[identity.pk])).status_code
        == 403
    )
    support.post(
        reverse("admin:accounts_identity_review", args=[identity.pk]),
        {"decision": "approve", "tier": 2},
    )
    identity.refresh_from_db()
    assert identity.status == "submitted"
    client.post(
        reverse("admin:accounts_identity_review", args=[identity.pk]),
        {"decision": "approve", "tier": 1, "reason": "documents match"},
    )
    identity.refresh_from_db()
    # Tier 1 is one reviewer's decision; above it is four eyes (tests/compliance/test_insider.py).
    assert (identity.status, identity.tier, identity.reviewed_by) == ("approved", 1, officer)


def test_kyc_reject_needs_a_reason(staff: Callable[..., User], world: dict[str, Any]) -> None:
    identity: Identity = world["identity"]
    client = otp_client(staff(COMPLIANCE_OFFICER))
    url = reverse("admin:accounts_identity_review", args=[identity.pk])
    client.post(url, {"decision": "reject", "reason": ""})
    identity.refresh_from_db()
    assert identity.status == "submitted"
    client.post(url, {"decision": "reject", "reason": "The photo is unreadable"})
    identity.refresh_from_db()
    assert (identity.status, identity.decision_reason) == ("rejected", "The photo is unreadable")


def test_audit_log_is_read_only_for_everyone(
    staff: Callable[..., User], world: dict[str, Any], make_user: Callable[..., User]
) -> None:
    event: AuditEvent = world["event"]
    root = make_user(is_staff=True, is_superuser=True)
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=root, name="admin", confirmed=True)
    for user in (staff(AUDITOR), root):
        client = otp_client(user)
        change = reverse("admin:audit_auditevent_change", args=[event.pk])
        assert client.get(change).status_code == 200
        client.post(change, {"action": "forged"})
        assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
        delete = reverse("admin:audit_auditevent_delete", args=[event.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
        listing = client.get(reverse("admin:audit_auditevent_changelist") + "?action=case.open")
        assert listing.status_code == 200 and b"case.open" in listing.content
    event.refresh_from_db()
    assert event.action != "forged"


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.content[:300]
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_reports_download(
    staff: Callable[..., User], world: dict[str, Any], funded_account: Callable[..., Account]
) -> None:
    auditor = staff(AUDITOR)
    client = otp_client(auditor)
    today = timezone.localdate().isoformat()
    rows = _csv(client.get(reverse("admin:report_csv", args=["trial_balance"])))
    totals = {r[1]: int(r[4]) for r in rows[1:] if r[2] == "TOTAL"}
    assert totals == {"BTC": 0, "KZT": 0}
    customers_now = next(int(r[4]) for r in rows if r[1:3] == ["BTC", "customer"])
    assert customers_now >= 50_000
    today_rows = _csv(
        client.get(reverse("admin:report_csv", args=["trial_balance"]), {"day": today})
    )
    assert [r[1:5] for r in today_rows[1:]] == [r[1:5] for r in rows[1:]]
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    before = _csv(
        client.get(reverse("admin:report_csv", args=["trial_balance"]), {"day": yesterday})
    )
    assert all(int(r[4]) == 0 for r in before[1:])  # nothing had moved yet
    rows = _csv(
        client.get(
            reverse("admin:report_csv", args=["large_transactions"]),
            {"start": today, "end": today, "threshold_tiyn": "1"},
        )
    )
    assert any(r[2] == "deposit" and r[4] == "50000" for r in rows[1:])
    officer = staff(COMPLIANCE_OFFICER)
    case_close(
        actor=officer, case_id=world["case"].pk, decision="suspicious", reason="pattern confirmed"
    )
    rows = _csv(
        client.get(
            reverse("admin:report_csv", args=["suspicious_activity"]),
            {"start": today, "end": today},
        )
    )
    assert [r[0] for r in rows[1:]] == [str(world["case"].pk)] and rows[1][7] == "velocity"
    owner = world["account"].owner
    rows = _csv(
        client.get(
            reverse("admin:report_csv", args=["annual_statement"]),
            {"email": owner.email, "year": str(timezone.localdate().year)},
        )
    )
    assert rows[1][5] == "in" and int(rows[1][8]) > 0  # the deposit, valued in KZT
    assert AuditEvent.objects.filter(action="report.download", actor=auditor).count() == 6
    support = otp_client(staff(SUPPORT))
    assert support.get(reverse("admin:report_csv", args=["trial_balance"])).status_code == 403
    bad = client.get(reverse("admin:report_csv", args=["large_transactions"]), {"start": "x"})
    assert bad.status_code == 302


def test_large_transactions_report_applies_its_threshold(
    staff: Callable[..., User], funded_account: Callable[..., Account]
) -> None:
    threshold = 5_000_000_00  # 5 000 000.00 KZT
    source, target = funded_account(10_000_000), funded_account()
    ids = {}
    for name, value in (("below", threshold - 1), ("at", threshold), ("above", threshold + 1)):
        ids[name] = transfer_create(
            debit_account_id=source.pk, credit_account_id=target.pk, amount_minor=1_000,
            code="internal", kzt_value_tiyn=value,
        ).pk  # fmt: skip
    today = timezone.localdate().isoformat()
    client = otp_client(staff(AUDITOR))
    rows = _csv(
        client.get(
            reverse("admin:report_csv", args=["large_transactions"]),
            {"start": today, "end": today, "threshold_tiyn": str(threshold)},
        )
    )
    listed = {int(r[0]): int(r[6]) for r in rows[1:]}
    assert ids["below"] not in listed
    assert listed[ids["at"]] == threshold and listed[ids["above"]] == threshold + 1
    assert all(value >= threshold for value in listed.values())  # the funding is valued too
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    old = _csv(
        client.get(
            reverse("admin:report_csv", args=["large_transactions"]),
            {"start": yesterday, "end": yesterday, "threshold_tiyn": "1"},
        )
    )
    assert old[1:] == []  # the date range applies too


def test_sanctions_csv_import(staff: Callable[..., User]) -> None:
    client = otp_client(staff(COMPLIANCE_OFFICER))
    url = reverse("admin:compliance_sanctionedaddress_import")
    good = f"address,note\n{regtest_address(1)},mixer\n{regtest_address(2).upper()},\n"
    response = client.post(
        url, {"source": "OFAC SDN", "file": ContentFile(good.encode(), name="list.csv")}
    )
    assert response.status_code == 302
    assert set(SanctionedAddress.objects.values_list("address", flat=True)) == {
        regtest_address(1),
        regtest_address(2),
    }
    response = client.post(
        url, {"source": "x", "file": ContentFile(b"not-an-address\n", name="bad.csv")}
    )
    assert response.status_code == 200 and b"line 1" in response.content
    assert SanctionedAddress.objects.count() == 2
    support = otp_client(staff(SUPPORT))
    refused = support.post(
        url, {"source": "x", "file": ContentFile(f"{regtest_address(3)}\n".encode(), name="s.csv")}
    )
    assert refused.status_code == 403 and SanctionedAddress.objects.count() == 2


def test_limit_edit_in_admin_becomes_a_proposal(staff: Callable[..., User]) -> None:
    client = otp_client(staff(COMPLIANCE_OFFICER))
    limit = TierLimit.objects.get(tier=1, kind="withdrawal")
    before = limit.per_transaction_tiyn
    response = client.post(
        reverse("admin:compliance_tierlimit_change", args=[limit.pk]),
        {"per_transaction_tiyn": 1, "daily_tiyn": 2, "monthly_tiyn": 3, "reason": "test"},
    )
    assert response.status_code == 302
    limit.refresh_from_db()
    assert limit.per_transaction_tiyn == before
    proposal = ApprovalRequest.objects.get(action="limit_change")
    assert proposal.params["after"] == {
        "per_transaction_tiyn": 1,
        "daily_tiyn": 2,
        "monthly_tiyn": 3,
    }


def test_rule_edit_in_admin(staff: Callable[..., User]) -> None:
    """An edit in the admin is a proposal; it applies when a second officer approves."""
    officer = staff(COMPLIANCE_OFFICER)
    client = otp_client(officer)
    rule = RuleConfig.objects.get(name="large_amount")
    before = dict(rule.params)
    url = reverse("admin:compliance_ruleconfig_change", args=[rule.pk])
    client.post(url, {"enabled": "on", "params": '{"threshold_tiyn": 1.5}', "reason": "x"})
    client.post(url, {"enabled": "on", "params": '{"nonsense": 1}', "reason": "x"})
    assert not ApprovalRequest.objects.filter(action="rule_change").exists()
    client.post(url, {"enabled": "on", "params": '{"threshold_tiyn": 123}', "reason": "lower"})
    rule.refresh_from_db()
    assert rule.params == before
    proposal = ApprovalRequest.objects.get(action="rule_change", status="pending")
    auditor = otp_client(staff(AUDITOR))
    auditor.post(url, {"enabled": "", "params": '{"threshold_tiyn": 1}', "reason": "x"})
    assert ApprovalRequest.objects.filter(action="rule_change").count() == 1
    approval_approve(actor=staff(COMPLIANCE_OFFICER), request_id=proposal.pk)
    rule.refresh_from_db()
    assert rule.enabled and rule.params == {"threshold_tiyn": 123}
    assert AuditEvent.objects.filter(action="rule.update").count() == 1


def test_attachments_and_escalation(staff: Callable[..., User], world: dict[str, Any]) -> None:
    officer = staff(COMPLIANCE_OFFICER)
    client = otp_client(officer)
    case: Case = world["case"]
    client.post(
        reverse("admin:compliance_case_attach", args=[case.pk]),
        {"file": ContentFile(b"bank statement", name="statement.txt"), "name": "statement"},
    )
    attachment = case.attachments.get()
    url = reverse("admin:compliance_case_attachment", args=[attachment.pk])
    download = client.get(url)
    assert b"".join(download.streaming_content) == b"bank statement"  # type: ignore[attr-defined]
    assert otp_client(staff(SUPPORT)).get(url).status_code == 403
    changelist = reverse("admin:compliance_case_changelist")
    client.post(
        changelist,
        {"action": "escalate", "_selected_action": [case.pk], "index": 0, "reason": "big one"},
    )
    case.refresh_from_db()
    assert case.status == "escalated"
    listing = client.get(changelist + "?state=active")
    assert listing.status_code == 200 and listing.context["cl"].result_count == 1


@pytest.mark.parametrize("role", [AUDITOR, COMPLIANCE_OFFICER, SUPPORT, CUSTODY_OPERATOR])
def test_no_role_reads_otp_secrets(staff: Callable[..., User], role: str) -> None:
    client = otp_client(staff(role))
    for name in (
        "admin:otp_totp_totpdevice_changelist",
        "admin:otp_static_staticdevice_changelist",
    ):
        assert client.get(reverse(name)).status_code == 403


def test_index_shows_the_last_reconciliation(staff: Callable[..., User]) -> None:
    from treasury.models import ReconciliationRun

    ReconciliationRun.objects.create(status="mismatch")
    response = otp_client(staff(AUDITOR)).get(reverse("admin:index"))
    assert response.context["counters"]["reconciliation"].startswith("mismatch (")
