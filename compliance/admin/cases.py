"""The case queue and the one-screen review of a case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import Account, AccountStatus, Identity
from audit.models import AuditEvent
from compliance.models import (
    Case,
    CaseAttachment,
    CaseDecision,
    CaseStatus,
    ScreenedMovement,
)
from compliance.permissions import has_perm
from compliance.registry import case_subject_decide, subject_review, subject_review_permissions
from compliance.services import (
    case_assign,
    case_attach,
    case_close,
    case_escalate,
    case_note_add,
    staff_account_freeze,
    staff_account_unfreeze_propose,
)
from compliance.services.actions import FREEZE, UNFREEZE
from compliance.services.cases import WORK_CASE, case_attachment_open
from core.admin_tools import (
    ReadOnlyAdmin,
    ReasonActionForm,
    call_service,
    reason_of,
    safe_next,
)
from core.money import format_amount


class StateFilter(admin.SimpleListFilter):
    """Open work at a glance: every case not yet closed, whatever its stage."""

    title = gettext_lazy("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", _("not closed")), ("mine", _("assigned to me, not closed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "active":
            return queryset.exclude(status=CaseStatus.CLOSED)
        if self.value() == "mine":
            return queryset.exclude(status=CaseStatus.CLOSED).filter(assignee=request.user.pk)
        return queryset


class AgeFilter(admin.SimpleListFilter):
    title = gettext_lazy("age")
    parameter_name = "age"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("1", _("under a day")),
            ("3", _("1-3 days")),
            ("7", _("3-7 days")),
            ("old", _("over 7 days")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        bands = {"1": (0, 1), "3": (1, 3), "7": (3, 7)}
        value = self.value()
        if value in bands:
            low, high = bands[value]
            return queryset.filter(
                created_at__lte=now - timedelta(days=low), created_at__gt=now - timedelta(days=high)
            )
        if value == "old":
            return queryset.filter(created_at__lte=now - timedelta(days=7))
        return queryset


class AmountFilter(admin.SimpleListFilter):
    title = gettext_lazy("amount (KZT equivalent)")
    parameter_name = "kzt"
    BANDS = {
        "s": (0, 100_000 * 100),
        "m": (100_000 * 100, 1_000_000 * 100),
        "l": (1_000_000 * 100, 10_000_000 * 100),
        "xl": (10_000_000 * 100, None),
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("s", _("< 100k KZT")),
            ("m", _("100k-1M KZT")),
            ("l", _("1M-10M KZT")),
            ("xl", _(">= 10M KZT")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        low, high = band
        queryset = queryset.filter(amount_kzt_tiyn__gte=low)
        return queryset if high is None else queryset.filter(amount_kzt_tiyn__lt=high)


class NoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=10_000)


class AttachForm(forms.Form):
    file = forms.FileField()
    name = forms.CharField(required=False, max_length=120)


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind",
        "status",
        "summary",
        "customer",
        "amount",
        "kzt",
        "assignee",
        "age_display",
        "created_at",
    ]
    list_filter = [
        StateFilter,
        "status",
        "kind",
        AgeFilter,
        AmountFilter,
        ("assignee", admin.RelatedOnlyFieldListFilter),
        "decision",
    ]
    search_fields = ["summary", "subject_id", "customer__email"]
    list_select_related = ["customer", "assignee"]
    date_hierarchy = "created_at"
    action_form = ReasonActionForm
    actions = [
        "take",
        "escalate",
        "close_cleared",
        "close_suspicious",
        "approve_withdrawal",
        "reject_withdrawal",
        "freeze_customer",
        "unfreeze_customer",
    ]
    change_form_template = "admin/compliance/case/change_form.html"
    readonly_fields = [
        "kind",
        "status",
        "subject_type",
        "subject_id",
        "customer",
        "summary",
        "findings",
        "amount_minor",
        "currency",
        "amount_kzt_tiyn",
        "assignee",
        "decision",
        "decision_reason",
        "decided_by",
        "created_at",
        "closed_at",
    ]

    @admin.display(description=gettext_lazy("amount"))
    def amount(self, case: Case) -> str:
        if case.amount_minor is None or not case.currency:
            return "-"
        return format_amount(case.amount_minor, case.currency, with_code=True)

    @admin.display(description=gettext_lazy("KZT"), ordering="amount_kzt_tiyn")
    def kzt(self, case: Case) -> str:
        if case.amount_kzt_tiyn is None:
            return "-"
        return format_amount(case.amount_kzt_tiyn, "KZT")

    @admin.display(description=gettext_lazy("age"), ordering="created_at")
    def age_display(self, case: Case) -> str:
        age = timezone.now() - case.created_at
        return _("%(days)sd %(hours)sh") % {"days": age.days, "hours": age.seconds // 3600}

    # --- actions: each one service call per case, shown only to who may take it ----------

    def has_work_case_permission(self, request: HttpRequest) -> bool:
        return has_perm(request.user, WORK_CASE)

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return any(has_perm(request.user, perm) for perm in subject_review_permissions())

    def has_freeze_permission(self, request: HttpRequest) -> bool:
        return has_perm(request.user, FREEZE)

    def has_unfreeze_permission(self, request: HttpRequest) -> bool:
        return has_perm(request.user, UNFREEZE)

    def _each(
        self, request: HttpRequest, queryset: QuerySet[Case], label: str, fn: Any, **kwargs: Any
    ) -> HttpResponse | None:
        done = 0
        for case in queryset:
            ok, _done = call_service(
                request, fn, _("Case %(pk)s") % {"pk": case.pk}, case_id=case.pk, **kwargs
            )
            done += ok
        if done:
            messages.success(
                request,
                ngettext("%(label)s: %(n)d case.", "%(label)s: %(n)d cases.", done)
                % {"label": label, "n": done},
            )
        return self._back(request)

    def _back(self, request: HttpRequest) -> HttpResponse | None:
        target = safe_next(request)
        return HttpResponseRedirect(target) if target else None

    @admin.action(description=gettext_lazy("Assign to me"), permissions=["work_case"])
    def take(self, request: HttpRequest, queryset: QuerySet[Case]) -> HttpResponse | None:
        return self._each(request, queryset, _("Assigned"), case_assign, assignee=request.user)

    @admin.action(description=gettext_lazy("Escalate (reason required)"), permissions=["work_case"])
    def escalate(self, request: HttpRequest, queryset: QuerySet[Case]) -> HttpResponse | None:
        return self._each(
            request, queryset, _("Escalated"), case_escalate, reason=reason_of(request)
        )

    @admin.action(
        description=gettext_lazy("Close: cleared, no concern (reason required)"),
        permissions=["work_case"],
    )
    def close_cleared(self, request: HttpRequest, queryset: QuerySet[Case]) -> HttpResponse | None:
        return self._each(
            request,
            queryset,
            _("Closed"),
            case_close,
            decision=CaseDecision.CLEARED,
            reason=reason_of(request),
        )

    @admin.action(
        description=gettext_lazy("Close: suspicious, report it (reason required)"),
        permissions=["work_case"],
    )
    def close_suspicious(
        self, request: HttpRequest, queryset: QuerySet[Case]
    ) -> HttpResponse | None:
        return self._each(
            request,
            queryset,
            _("Closed as suspicious"),
            case_close,
            decision=CaseDecision.SUSPICIOUS,
            reason=reason_of(request),
        )

    def _subjects(self, request: HttpRequest, queryset: QuerySet[Case]) -> list[Case]:
        """Cases whose subject the owning app lets this screen decide (its registered review)."""
        decidable = []
        for case in queryset:
            if subject_review(case.subject_type) is None:
                messages.error(
                    request, _("Case %(pk)s: its subject is not decided here") % {"pk": case.pk}
                )
                continue
            decidable.append(case)
        return decidable

    def _decide(self, request: HttpRequest, queryset: QuerySet[Case], *, approve: bool) -> None:
        for case in self._subjects(request, queryset):
            label = f"{case.subject_type} {case.subject_id}"
            ok, proposal = call_service(
                request,
                case_subject_decide,
                label,
                approve=approve,
                subject_type=case.subject_type,
                subject_id=case.subject_id,
                reason=reason_of(request),
            )
            if ok and approve and proposal is not None:
                messages.warning(
                    request,
                    _("%(subject)s needs four eyes: sent for a second approval (request %(pk)s).")
                    % {"subject": label, "pk": proposal.pk},
                )
            elif ok:
                done = (
                    _("%(subject)s approved.")
                    if approve
                    else _("%(subject)s rejected; funds released.")
                )
                messages.success(request, done % {"subject": label})

    @admin.action(
        description=gettext_lazy("Approve the withdrawal (reason required)"), permissions=["decide"]
    )
    def approve_withdrawal(
        self, request: HttpRequest, queryset: QuerySet[Case]
    ) -> HttpResponse | None:
        self._decide(request, queryset, approve=True)
        return self._back(request)

    @admin.action(
        description=gettext_lazy("Reject the withdrawal (reason required)"), permissions=["decide"]
    )
    def reject_withdrawal(
        self, request: HttpRequest, queryset: QuerySet[Case]
    ) -> HttpResponse | None:
        self._decide(request, queryset, approve=False)
        return self._back(request)

    def _accounts(self, queryset: QuerySet[Case], status: str) -> list[Account]:
        owners = [c.customer_id for c in queryset if c.customer_id]
        return list(
            Account.objects.filter(
                owner_id__in=owners, kind__in=["customer", "merchant"], status=status
            )
        )

    @admin.action(
        description=gettext_lazy("Freeze the customer's accounts (reason required)"),
        permissions=["freeze"],
    )
    def freeze_customer(
        self, request: HttpRequest, queryset: QuerySet[Case]
    ) -> HttpResponse | None:
        for account in self._accounts(queryset, AccountStatus.ACTIVE):
            ok, _done = call_service(
                request,
                staff_account_freeze,
                account.number,
                account_id=account.pk,
                reason=reason_of(request),
            )
            if ok:
                messages.success(request, _("%(number)s frozen.") % {"number": account.number})
        return self._back(request)

    @admin.action(
        description=gettext_lazy("Propose unfreezing the customer's accounts (four eyes)"),
        permissions=["unfreeze"],
    )
    def unfreeze_customer(
        self, request: HttpRequest, queryset: QuerySet[Case]
    ) -> HttpResponse | None:
        for account in self._accounts(queryset, AccountStatus.FROZEN):
            ok, proposal = call_service(
                request,
                staff_account_unfreeze_propose,
                account.number,
                account_id=account.pk,
                reason=reason_of(request),
            )
            if ok:
                messages.success(
                    request,
                    _("Unfreezing %(number)s proposed (request %(pk)s); a colleague must approve.")
                    % {"number": account.number, "pk": proposal.pk},
                )
        return self._back(request)

    # --- the one-screen review -----------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:case_id>/note/", wrap(self.note_view), name="compliance_case_note"),
            path("<int:case_id>/attach/", wrap(self.attach_view), name="compliance_case_attach"),
            path(
                "attachment/<int:attachment_id>/",
                wrap(self.attachment_view),
                name="compliance_case_attachment",
            ),
            *super().get_urls(),
        ]

    def note_view(self, request: HttpRequest, case_id: int) -> HttpResponse:
        form = NoteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            ok, _done = call_service(
                request, case_note_add, _("Note"), case_id=case_id, text=form.cleaned_data["text"]
            )
            if ok:
                messages.success(request, _("Note added."))
        elif request.method == "POST":
            messages.error(request, _("The note is empty."))
        return redirect("admin:compliance_case_change", case_id)

    def attach_view(self, request: HttpRequest, case_id: int) -> HttpResponse:
        form = AttachForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            ok, _done = call_service(
                request,
                case_attach,
                _("Attachment"),
                case_id=case_id,
                upload=form.cleaned_data["file"],
                name=form.cleaned_data["name"],
            )
            if ok:
                messages.success(request, _("File attached."))
        elif request.method == "POST":
            messages.error(request, _("Choose a file."))
        return redirect("admin:compliance_case_change", case_id)

    def attachment_view(self, request: HttpRequest, attachment_id: int) -> HttpResponseBase:
        ok, opened = call_service(
            request, case_attachment_open, _("Attachment"), attachment_id=attachment_id
        )
        if not ok:
            return HttpResponse(
                _("Not allowed or not found"), status=403, content_type="text/plain"
            )
        handle, name = opened
        response = FileResponse(handle, as_attachment=True, filename=name)
        response["Cache-Control"] = "private, no-store"
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        case = get_object_or_404(Case, pk=object_id) if object_id.isdigit() else None
        context = {**(extra_context or {}), **(self._facts(request, case) if case else {})}
        return super().change_view(request, object_id, form_url, context)

    def _facts(self, request: HttpRequest, case: Case) -> dict[str, Any]:
        user = request.user
        review = subject_review(case.subject_type)
        facts: dict[str, Any] = {
            "case": case,
            "notes": case.notes.select_related("author"),
            "attachments": case.attachments.all(),
            "can_work": has_perm(user, "compliance.work_case"),
            "can_decide": review is not None and has_perm(user, review.permission),
            "can_freeze": has_perm(user, FREEZE),
            "can_unfreeze": has_perm(user, UNFREEZE),
            "changelist_url": reverse("admin:compliance_case_changelist"),
            "trail": AuditEvent.objects.filter(
                object_type="compliance.case", object_id=str(case.pk)
            ).order_by("seq")[:50],
            "decisions": CaseDecision.choices,
            "is_open": case.status != CaseStatus.CLOSED,
            "kzt_display": "-"
            if case.amount_kzt_tiyn is None
            else format_amount(case.amount_kzt_tiyn, "KZT", with_code=True),
        }
        if case.customer_id:
            facts["identity"] = Identity.objects.filter(user_id=case.customer_id).first()
            facts["accounts"] = [
                {
                    "number": a.number,
                    "currency": a.currency,
                    "status": a.status,
                    "posted": format_amount(a.posted_minor, a.currency, with_code=True),
                    "held": format_amount(a.held_minor, a.currency, with_code=True),
                }
                for a in Account.objects.filter(owner_id=case.customer_id)
            ]
            facts["history"] = ScreenedMovement.objects.filter(user_id=case.customer_id).order_by(
                "-created_at"
            )[:10]
        if review is not None:
            facts.update(review.facts(case.subject_id))
        return facts


@admin.register(CaseAttachment)
class CaseAttachmentAdmin(ReadOnlyAdmin):
    list_display = ["name", "case", "uploaded_by", "created_at"]
    list_select_related = ["case", "uploaded_by"]
    exclude = ["file"]
