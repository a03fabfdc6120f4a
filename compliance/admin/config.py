"""Rule settings, the sanctions list (with CSV import) and tier limits.

Rule changes, taking an address off the sanctions list and limit changes are
proposals here: a different staff member approves them in the four-eyes queue.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.access import acting_user
from compliance.models import (
    RuleConfig,
    RuleConfigVersion,
    SanctionedAddress,
    ScreenedMovement,
    TierLimit,
)
from compliance.permissions import has_perm
from compliance.services import (
    rule_config_propose,
    sanctioned_address_add,
    sanctioned_address_deactivate_propose,
    sanctioned_address_set_active,
    sanctions_import_csv,
    tier_limit_propose,
)
from compliance.services.rules_admin import MANAGE_RULES
from compliance.services.sanctions import IMPORT_MAX_BYTES, MANAGE_SANCTIONS
from core.admin_tools import ReadOnlyAdmin, ReasonActionForm, call_service, reason_of
from core.errors import ApplicationError
from core.http import client_address


def _is_success(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Return whether a ``message_user`` call is at the success level."""
    level = args[0] if args else kwargs.get("level", messages.INFO)
    return bool(level == messages.SUCCESS)


class RuleConfigForm(forms.ModelForm):
    params = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
        help_text=gettext_lazy("JSON object of whole-number thresholds"),
    )
    reason = forms.CharField(
        max_length=500, help_text=gettext_lazy("why (a colleague approves the change)")
    )

    class Meta:
        model = RuleConfig
        fields = ["enabled", "params"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["params"] = json.dumps(self.instance.params, indent=2, sort_keys=True)

    def clean_params(self) -> dict[str, Any]:
        try:
            value = json.loads(self.cleaned_data["params"])
        except ValueError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from exc
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Give a JSON object"))
        return value


@admin.register(RuleConfig)
class RuleConfigAdmin(admin.ModelAdmin):
    form = RuleConfigForm
    list_display = ["name", "enabled", "params", "description", "updated_at"]
    list_filter = ["enabled"]
    readonly_fields = ["name", "description", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return has_perm(request.user, MANAGE_RULES)

    def save_model(
        self, request: HttpRequest, obj: RuleConfig, form: forms.ModelForm, change: bool
    ) -> None:
        # Never saved here: the change becomes a four-eyes proposal (the service checks it).
        ok, proposal = call_service(
            request,
            rule_config_propose,
            _("Rule"),
            name=obj.name,
            enabled=form.cleaned_data["enabled"],
            params=form.cleaned_data["params"],
            reason=form.cleaned_data["reason"],
        )
        request._proposal = proposal if ok else None  # type: ignore[attr-defined]

    def response_change(self, request: HttpRequest, obj: RuleConfig) -> HttpResponse:
        proposal = getattr(request, "_proposal", None)
        if proposal is None:
            return HttpResponseRedirect(request.path)
        messages.info(
            request,
            _(
                "Change proposed (approval request %(pk)s); it takes effect when a different "
                "staff member approves it, for withdrawals requested after that."
            )
            % {"pk": proposal.pk},
        )
        return redirect("admin:compliance_ruleconfig_changelist")

    def message_user(self, request: HttpRequest, message: Any, *args: Any, **kwargs: Any) -> None:
        # Hide Django's "changed successfully" (in any language): nothing changed until approved.
        if not _is_success(args, kwargs):
            super().message_user(request, message, *args, **kwargs)


@admin.register(RuleConfigVersion)
class RuleConfigVersionAdmin(ReadOnlyAdmin):
    """Every version of every rule, with when it took effect and the approval behind it."""

    list_display = ["name", "effective_at", "enabled", "params", "approval"]
    list_filter = ["name", "enabled"]
    list_select_related = ["approval"]
    date_hierarchy = "effective_at"


class SanctionedAddressForm(forms.ModelForm):
    class Meta:
        model = SanctionedAddress
        fields = ["address", "source", "note"]


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text=gettext_lazy("CSV: address[,note] per line; a header line is skipped")
    )
    source = forms.CharField(max_length=120, help_text=gettext_lazy("the list this came from"))


@admin.register(SanctionedAddress)
class SanctionedAddressAdmin(admin.ModelAdmin):
    form = SanctionedAddressForm
    list_display = ["address", "active", "source", "note", "added_by", "created_at"]
    list_select_related = ["added_by"]
    list_filter = ["active", "source"]
    search_fields = ["address", "note"]
    action_form = ReasonActionForm
    actions = ["deactivate", "activate"]
    change_list_template = "admin/compliance/sanctionedaddress/change_list.html"

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return has_perm(request.user, MANAGE_SANCTIONS)

    def has_manage_sanctions_permission(self, request: HttpRequest) -> bool:
        return has_perm(request.user, MANAGE_SANCTIONS)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        context = {**(extra_context or {}), "can_import": has_perm(request.user, MANAGE_SANCTIONS)}
        return super().changelist_view(request, context)

    def save_model(
        self, request: HttpRequest, obj: SanctionedAddress, form: forms.ModelForm, change: bool
    ) -> None:
        ok, row = call_service(
            request,
            sanctioned_address_add,
            _("Sanctions"),
            address=obj.address,
            source=obj.source,
            note=obj.note,
        )
        if ok:
            obj.pk = row.pk

    @admin.action(
        description=gettext_lazy("Propose taking off the list (four eyes, reason required)"),
        permissions=["manage_sanctions"],
    )
    def deactivate(self, request: HttpRequest, queryset: QuerySet[SanctionedAddress]) -> None:
        for row in queryset:
            ok, proposal = call_service(request, sanctioned_address_deactivate_propose,
                                        row.address, address_id=row.pk, reason=reason_of(request))  # fmt: skip
            if ok:
                messages.info(request, _("%(address)s: taking it off proposed (request %(pk)s); "
                                         "it stays listed until approved.")
                              % {"address": row.address, "pk": proposal.pk})  # fmt: skip

    @admin.action(
        description=gettext_lazy("Put back on the list (reason required)"),
        permissions=["manage_sanctions"],
    )
    def activate(self, request: HttpRequest, queryset: QuerySet[SanctionedAddress]) -> None:
        for row in queryset:
            call_service(request, sanctioned_address_set_active, row.address,
                         address_id=row.pk, active=True, reason=reason_of(request))  # fmt: skip

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="compliance_sanctionedaddress_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not has_perm(request.user, MANAGE_SANCTIONS):
            raise PermissionDenied  # the service checks again on import
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = sanctions_import_csv(
                    actor=acting_user(request),
                    content=upload.read(IMPORT_MAX_BYTES + 1),
                    source=form.cleaned_data["source"],
                    client_address=client_address(request),
                )
            except ApplicationError as exc:
                errors = [e for v in exc.fields.values() for e in v]
                form.add_error(None, [exc.message, *errors[:20]])
            else:
                messages.success(
                    request,
                    _(
                        "Imported: %(added)s added, %(reactivated)s reactivated, "
                        "%(already_listed)s already listed."
                    )
                    % result,
                )
                return redirect("admin:compliance_sanctionedaddress_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": _("Import sanctioned addresses"),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/compliance/sanctionedaddress/import.html", context)


class TierLimitForm(forms.ModelForm):
    reason = forms.CharField(
        max_length=500, help_text=gettext_lazy("why (a colleague approves the change)")
    )

    class Meta:
        model = TierLimit
        fields = ["per_transaction_tiyn", "daily_tiyn", "monthly_tiyn"]


@admin.register(TierLimit)
class TierLimitAdmin(admin.ModelAdmin):
    form = TierLimitForm
    list_display = [
        "tier",
        "kind",
        "per_transaction_tiyn",
        "daily_tiyn",
        "monthly_tiyn",
        "updated_at",
    ]
    list_filter = ["tier", "kind"]
    readonly_fields = ["tier", "kind", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return has_perm(request.user, "compliance.change_limits")

    def save_model(
        self, request: HttpRequest, obj: TierLimit, form: forms.ModelForm, change: bool
    ) -> None:
        # Never saved here: the change becomes a four-eyes proposal.
        data = form.cleaned_data
        ok, proposal = call_service(
            request,
            tier_limit_propose,
            _("Limits"),
            tier=obj.tier,
            kind=obj.kind,
            per_transaction_tiyn=data["per_transaction_tiyn"],
            daily_tiyn=data["daily_tiyn"],
            monthly_tiyn=data["monthly_tiyn"],
            reason=data["reason"],
        )
        request._proposal = proposal if ok else None  # type: ignore[attr-defined]

    def response_change(self, request: HttpRequest, obj: TierLimit) -> HttpResponse:
        proposal = getattr(request, "_proposal", None)
        if proposal is not None:
            messages.info(
                request,
                _(
                    "Change proposed (approval request %(pk)s); "
                    "a different staff member must approve it."
                )
                % {"pk": proposal.pk},
            )
        return redirect("admin:compliance_tierlimit_changelist")

    def message_user(self, request: HttpRequest, message: Any, *args: Any, **kwargs: Any) -> None:
        # Hide Django's "changed successfully" (in any language): nothing changed until approved.
        if not _is_success(args, kwargs):
            super().message_user(request, message, *args, **kwargs)


@admin.register(ScreenedMovement)
class ScreenedMovementAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "user",
        "kind",
        "subject_id",
        "amount_kzt_tiyn",
        "address",
        "decision",
        "case",
    ]
    list_filter = ["decision", "kind"]
    search_fields = ["user__email", "address", "subject_id"]
    list_select_related = ["user", "case"]
