"""Staff screens of the treasury. Read-only rows; every change goes through a service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.access import acting_user
from compliance.permissions import has_perm
from core.admin_tools import ReadOnlyAdmin, ReasonActionForm, call_service, reason_of
from core.errors import ApplicationError, ValidationFailed
from core.money import parse_amount
from treasury import services
from treasury.models import (
    ColdDescriptor,
    ColdMove,
    RebalanceAlert,
    ReconciliationRun,
    ReserveSnapshot,
    Sweep,
)
from treasury.services.common import COLD_MOVE_PERMISSION

UPLOAD_BYTES_MAX = 200_000


class DescriptorsForm(forms.Form):
    descriptors = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 100}),
        help_text=gettext_lazy(
            "Public descriptors, one a line: receive (/0/*) and change (/1/*) branches."
        ),
    )
    range_end = forms.IntegerField(min_value=1, max_value=100_000, initial=999)


class ColdMoveRequestForm(forms.Form):
    amount_btc = forms.CharField(label=gettext_lazy("Amount (BTC)"), max_length=20)
    reason = forms.CharField(max_length=500)


class PsbtUploadForm(forms.Form):
    psbt_file = forms.FileField(
        required=False, help_text=gettext_lazy("the signed PSBT file (base64)")
    )
    psbt_text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))


def _form_page(request: HttpRequest, title: str, form: forms.Form) -> HttpResponse:
    context = {**admin.site.each_context(request), "title": title, "form": form}
    return TemplateResponse(request, "admin/alatau_form.html", context)


class ButtonsAdmin(ReadOnlyAdmin):
    """A read-only changelist with buttons (object tools) leading to service views.

    A button with a permission is shown only to staff holding it (its service checks it).
    """

    change_list_template = "admin/treasury/change_list.html"
    buttons: list[tuple[str, Any, str | None]] = []  # (url name suffix, label, permission)

    def has_cold_move_permission(self, request: HttpRequest) -> bool:
        return has_perm(request.user, COLD_MOVE_PERMISSION)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        info = self.model._meta.app_label, self.model._meta.model_name
        buttons = [(reverse(f"admin:{info[0]}_{info[1]}_{name}"), label)
                   for name, label, perm in self.buttons
                   if perm is None or has_perm(request.user, perm)]  # fmt: skip
        return super().changelist_view(request, {**(extra_context or {}), "buttons": buttons})

    def _url(self, suffix: str, view: Any, route: str) -> URLPattern:
        info = self.model._meta.app_label, self.model._meta.model_name
        return path(route, self.admin_site.admin_view(view), name=f"{info[0]}_{info[1]}_{suffix}")


@admin.register(ColdDescriptor)
class ColdDescriptorAdmin(ButtonsAdmin):
    list_display = ["fingerprint", "internal", "checksum", "range_end", "wallet", "imported_by",
                    "approved_by", "imported_at", "created_at"]  # fmt: skip
    readonly_fields = ["descriptor"]
    buttons = [("import", gettext_lazy("Propose public descriptors"), COLD_MOVE_PERMISSION)]

    def get_urls(self) -> list[Any]:
        return [self._url("import", self.import_view, "import/"), *super().get_urls()]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        form = DescriptorsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            lines = [x.strip() for x in form.cleaned_data["descriptors"].splitlines() if x.strip()]
            ok, proposal = call_service(request, services.cold_descriptors_propose, _("Import"),
                                        descriptors=lines,
                                        range_end=form.cleaned_data["range_end"])  # fmt: skip
            if ok:
                keys = ", ".join(proposal.params["fingerprints"])
                messages.success(request, _("Proposed %(n)s descriptor(s) of key(s) %(keys)s "
                                            "(request %(pk)s): a second operator checks the "
                                            "fingerprints and approves under Approval requests.")
                                 % {"n": len(lines), "keys": keys, "pk": proposal.pk})  # fmt: skip
                return HttpResponseRedirect(reverse("admin:treasury_colddescriptor_changelist"))
        return _form_page(
            request, _("Propose cold wallet descriptors (public only, four eyes)"), form
        )


@admin.register(ColdMove)
class ColdMoveAdmin(ButtonsAdmin):
    list_display = ["id", "amount_sats", "status", "requested_by", "approved_by_1",
                    "approved_by_2", "txid", "fee_sats", "created_at", "psbt_links"]  # fmt: skip
    list_filter = ["status"]
    readonly_fields = ["psbt_links"]
    exclude = ["psbt_unsigned", "psbt_signed", "raw_tx"]
    list_select_related = ["requested_by", "approved_by_1", "approved_by_2"]
    action_form = ReasonActionForm
    actions = ["approve", "build_psbt", "reject"]
    buttons = [("request", gettext_lazy("Request a cold-to-hot move"), COLD_MOVE_PERMISSION)]

    def get_urls(self) -> list[Any]:
        return [
            self._url("request", self.request_view, "request/"),
            self._url("download", self.download_view, "<int:move_id>/psbt/"),
            self._url("upload", self.upload_view, "<int:move_id>/upload/"),
            *super().get_urls(),
        ]

    @admin.display(description=gettext_lazy("PSBT"))
    def psbt_links(self, move: ColdMove) -> str:
        if move.status != "psbt_ready":
            return "-"
        return format_html(
            '<a href="{}">{}</a> | <a href="{}">{}</a>',
            reverse("admin:treasury_coldmove_download", args=[move.pk]),
            _("download"),
            reverse("admin:treasury_coldmove_upload", args=[move.pk]),
            _("upload signed"),
        )

    @admin.action(
        description=gettext_lazy("Approve (two different staff members; not the requester)"),
        permissions=["cold_move"],
    )
    def approve(self, request: HttpRequest, queryset: QuerySet[ColdMove]) -> None:
        for move in queryset:
            ok, result = call_service(request, services.cold_move_approve, _("Move %(pk)s") % {"pk": move.pk},
                                      move_id=move.pk)  # fmt: skip
            if ok:
                messages.success(
                    request,
                    _("Move %(pk)s is %(status)s.")
                    % {"pk": move.pk, "status": result.get_status_display()},
                )
                if result.status == "approved":
                    self._build(request, move.pk)

    def _build(self, request: HttpRequest, move_id: int) -> None:
        try:
            services.cold_move_psbt_build(move_id=move_id, actor=acting_user(request))
        except ApplicationError as exc:  # shown to staff; they can run the action again
            messages.error(
                request,
                _("Move %(pk)s: PSBT not built: %(error)s") % {"pk": move_id, "error": exc.message},
            )
        else:
            messages.success(request, _("Move %(pk)s: PSBT ready to download.") % {"pk": move_id})

    @admin.action(
        description=gettext_lazy("Build the PSBT (approved moves)"), permissions=["cold_move"]
    )
    def build_psbt(self, request: HttpRequest, queryset: QuerySet[ColdMove]) -> None:
        for move in queryset.filter(status="approved"):
            self._build(request, move.pk)

    @admin.action(description=gettext_lazy("Reject (reason required)"), permissions=["cold_move"])
    def reject(self, request: HttpRequest, queryset: QuerySet[ColdMove]) -> None:
        for move in queryset:
            ok, _done = call_service(request, services.cold_move_reject, _("Move %(pk)s") % {"pk": move.pk},
                                 move_id=move.pk, reason=reason_of(request))  # fmt: skip
            if ok:
                messages.success(request, _("Move %(pk)s rejected.") % {"pk": move.pk})

    def request_view(self, request: HttpRequest) -> HttpResponse:
        form = ColdMoveRequestForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                amount = parse_amount(form.cleaned_data["amount_btc"], "BTC", field="amount_btc")
            except ValidationFailed as exc:
                form.add_error("amount_btc", exc.message)
            else:
                ok, move = call_service(request, services.cold_move_request, _("Request"),
                                        amount_sats=amount, reason=form.cleaned_data["reason"])  # fmt: skip
                if ok:
                    messages.success(
                        request,
                        _("Cold move %(pk)s requested; two others approve.") % {"pk": move.pk},
                    )
                    return HttpResponseRedirect(reverse("admin:treasury_coldmove_changelist"))
        return _form_page(request, _("Request a cold-to-hot move"), form)

    def download_view(self, request: HttpRequest, move_id: int) -> HttpResponse:
        ok, psbt = call_service(request, services.cold_move_psbt_download, _("Download"),
                                move_id=move_id)  # fmt: skip
        if not ok:
            return HttpResponseRedirect(reverse("admin:treasury_coldmove_changelist"))
        response = HttpResponse(psbt, content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="cold-move-{move_id}.psbt"'
        return response

    def upload_view(self, request: HttpRequest, move_id: int) -> HttpResponse:
        move = get_object_or_404(ColdMove, pk=move_id)
        form = PsbtUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["psbt_file"]
            text = upload.read(UPLOAD_BYTES_MAX).decode("ascii", "replace") if upload else ""
            ok, result = call_service(request, services.cold_move_psbt_submit, _("Upload"),
                                      move_id=move.pk,
                                      psbt=text or form.cleaned_data["psbt_text"])  # fmt: skip
            if ok:
                messages.success(
                    request,
                    _("Move %(pk)s %(status)s: %(txid)s")
                    % {"pk": move.pk, "status": result.get_status_display(), "txid": result.txid},
                )
                return HttpResponseRedirect(reverse("admin:treasury_coldmove_changelist"))
        return _form_page(
            request, _("Upload the signed PSBT of cold move %(pk)s") % {"pk": move.pk}, form
        )


@admin.register(Sweep)
class SweepAdmin(ReadOnlyAdmin):
    list_display = ["id", "amount_sats", "fee_sats", "cold_address", "txid", "status",
                    "created_at", "confirmed_at"]  # fmt: skip
    list_filter = ["status"]
    exclude = ["raw_tx"]


@admin.register(RebalanceAlert)
class RebalanceAlertAdmin(ReadOnlyAdmin):
    list_display = ["id", "hot_balance_sats", "minimum_sats", "cold_move", "created_at"]


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ButtonsAdmin):
    list_display = ["id", "created_at", "status", "trigger", "case", "actor", "summary"]
    list_filter = ["status", "trigger"]
    buttons = [("run", gettext_lazy("Reconcile now"), None)]

    @admin.display(description=gettext_lazy("differences"))
    def summary(self, run: ReconciliationRun) -> str:
        return ", ".join(str(d.get("figure")) for d in run.differences) or "-"

    def get_urls(self) -> list[Any]:
        return [self._url("run", self.run_view, "run/"), *super().get_urls()]

    def run_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return render(request, "admin/treasury/confirm.html",
                          {**admin.site.each_context(request), "title": _("Reconcile now?")})  # fmt: skip
        ok, run = call_service(request, _reconcile_as_staff, _("Reconciliation"))
        if ok:
            level = messages.SUCCESS if run.status == "ok" else messages.ERROR
            messages.add_message(
                request,
                level,
                _("Reconciliation %(pk)s: %(status)s")
                % {"pk": run.pk, "status": run.get_status_display()},
            )
        return HttpResponseRedirect(reverse("admin:treasury_reconciliationrun_changelist"))


def _reconcile_as_staff(*, actor: Any, client_address: str | None = None) -> ReconciliationRun:
    return services.reconcile(trigger="admin", actor=actor)


def _snapshot_as_staff(*, actor: Any, client_address: str | None = None) -> ReserveSnapshot:
    return services.reserves_snapshot(actor=actor)


@admin.register(ReserveSnapshot)
class ReserveSnapshotAdmin(ButtonsAdmin):
    list_display = ["id", "created_at", "root_hash", "total_sats", "leaf_count",
                    "assets_total_sats", "block_height"]  # fmt: skip
    buttons = [("take", gettext_lazy("Take a snapshot now"), None)]

    def get_urls(self) -> list[Any]:
        return [self._url("take", self.take_view, "take/"), *super().get_urls()]

    def take_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return render(request, "admin/treasury/confirm.html",
                          {**admin.site.each_context(request), "title": _("Take a snapshot?")})  # fmt: skip
        ok, snapshot = call_service(request, _snapshot_as_staff, _("Snapshot"))
        if ok:
            messages.success(
                request,
                _("Snapshot %(pk)s: root %(root)s")
                % {"pk": snapshot.pk, "root": snapshot.root_hash},
            )
        return HttpResponseRedirect(reverse("admin:treasury_reservesnapshot_changelist"))
