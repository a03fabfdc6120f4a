"""The KYC review queue: identities, their documents, approve with a tier or reject."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Identity
from compliance.models import ApprovalRequest, TierLimit
from compliance.permissions import has_perm
from compliance.services import identity_document_open, identity_reject, identity_review_approve
from core.admin_tools import ReadOnlyAdmin, call_service


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", gettext_lazy("approve")), ("reject", gettext_lazy("reject"))]
    )
    tier = forms.IntegerField(required=False, min_value=1)
    reason = forms.CharField(required=False, max_length=500)


@admin.register(Identity)
class IdentityAdmin(ReadOnlyAdmin):
    list_display = [
        "user",
        "full_name",
        "status",
        "tier",
        "submitted_at",
        "reviewed_by",
        "reviewed_at",
    ]
    list_filter = ["status", "tier"]
    search_fields = ["user__email", "full_name", "iin"]
    list_select_related = ["user", "reviewed_by"]
    ordering = ["status", "submitted_at"]
    exclude = ["document"]
    readonly_fields = [
        "user",
        "full_name",
        "date_of_birth",
        "iin",
        "address",
        "status",
        "tier",
        "submitted_at",
        "reviewed_at",
        "reviewed_by",
        "decision_reason",
    ]
    change_form_template = "admin/compliance/identity/change_form.html"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:identity_id>/document/",
                wrap(self.document_view),
                name="accounts_identity_document",
            ),
            path(
                "<int:identity_id>/review/", wrap(self.review_view), name="accounts_identity_review"
            ),
            *super().get_urls(),
        ]

    def document_view(self, request: HttpRequest, identity_id: int) -> HttpResponseBase:
        ok, opened = call_service(
            request, identity_document_open, _("Document"), identity_id=identity_id
        )
        if not ok:
            return HttpResponse(
                _("Not allowed or no document"), status=403, content_type="text/plain"
            )
        handle, name = opened
        response = FileResponse(handle, filename=name)
        response["Cache-Control"] = "private, no-store"  # identity documents stay off disks
        return response

    def review_view(self, request: HttpRequest, identity_id: int) -> HttpResponse:
        form = ReviewForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            result: Any = None
            if data["decision"] == "approve":
                # A tier above the first becomes a proposal a second reviewer approves.
                ok, result = call_service(
                    request,
                    identity_review_approve,
                    _("Approve"),
                    identity_id=identity_id,
                    tier=data["tier"] or 0,
                    reason=data["reason"],
                )
            else:
                ok, _done = call_service(
                    request,
                    identity_reject,
                    _("Reject"),
                    identity_id=identity_id,
                    reason=data["reason"],
                )
            if ok and isinstance(result, ApprovalRequest):
                messages.warning(
                    request,
                    _(
                        "Tier %(tier)s needs four eyes: proposed (request %(pk)s); "
                        "a different reviewer must approve it."
                    )
                    % {"tier": data["tier"], "pk": result.pk},
                )
            elif ok:
                done = _("Identity approved.") if data["decision"] == "approve" else None
                messages.success(request, done or _("Identity rejected."))
        elif request.method == "POST":
            messages.error(request, _("Choose approve or reject."))
        return redirect("admin:accounts_identity_change", identity_id)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_review": has_perm(request.user, "compliance.review_kyc"),
            "can_see_document": has_perm(request.user, "compliance.view_kyc_document"),
            "tiers": sorted(
                t for t in set(TierLimit.objects.values_list("tier", flat=True)) if t >= 1
            ),
        }
        return super().change_view(request, object_id, form_url, context)
