"""Ledger corrections in the admin: propose a reversal or an adjustment (four eyes).

The proposal becomes an approval request; a second staff member approves it on the
approval requests page, and only then is the transfer posted.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.admin import TransferAdmin
from accounts.models import Account, Transfer
from compliance.permissions import has_perm
from compliance.services.corrections import (
    CORRECT_LEDGER,
    ledger_adjustment_propose,
    ledger_reversal_propose,
)
from core.admin_tools import ReasonActionForm, call_service, reason_of
from core.errors import ApplicationError
from core.money import parse_amount


class AdjustmentForm(forms.Form):
    debit_account = forms.CharField(
        max_length=34, help_text=gettext_lazy("account number (IBAN) to debit")
    )
    credit_account = forms.CharField(
        max_length=34, help_text=gettext_lazy("account number (IBAN) to credit")
    )
    amount = forms.CharField(
        max_length=40, help_text=gettext_lazy("in the accounts' currency, e.g. 0.0001")
    )
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


class TransferCorrectionAdmin(TransferAdmin):
    """The ledger's transfer list with four-eyes corrections: reversal and adjustment."""

    action_form = ReasonActionForm
    actions = ["propose_reversal"]

    def has_correct_ledger_permission(self, request: HttpRequest) -> bool:
        return has_perm(request.user, CORRECT_LEDGER)

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "propose-adjustment/",
                self.admin_site.admin_view(self.adjustment_view),
                name="accounts_transfer_propose_adjustment",
            )
        ]
        return extra + super().get_urls()

    @admin.action(
        description=gettext_lazy("Propose reversing (four eyes, reason required)"),
        permissions=["correct_ledger"],
    )
    def propose_reversal(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        for transfer in queryset:
            ok, proposal = call_service(request, ledger_reversal_propose, _("Transfer %(pk)s") % {"pk": transfer.pk},
                                        transfer_id=transfer.pk, reason=reason_of(request))  # fmt: skip
            if ok:
                messages.success(request, _("Reversal of transfer %(transfer)s proposed "
                                            "(request %(pk)s): a second person approves.")
                                 % {"transfer": transfer.pk, "pk": proposal.pk})  # fmt: skip

    def adjustment_view(self, request: HttpRequest) -> HttpResponse:
        if not has_perm(request.user, CORRECT_LEDGER):
            messages.error(
                request, _("You lack the permission %(perm)s") % {"perm": CORRECT_LEDGER}
            )
            return redirect("admin:accounts_transfer_changelist")
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid() and self._propose(request, form):
            return redirect("admin:compliance_approvalrequest_changelist")
        context = {**self.admin_site.each_context(request),
                   "title": _("Propose a ledger adjustment (four eyes)"), "form": form}  # fmt: skip
        return TemplateResponse(request, "admin/alatau_form.html", context)

    def _propose(self, request: HttpRequest, form: AdjustmentForm) -> bool:
        numbers = [form.cleaned_data["debit_account"].replace(" ", ""),
                   form.cleaned_data["credit_account"].replace(" ", "")]  # fmt: skip
        found = {a.number: a for a in Account.objects.filter(number__in=numbers)}
        if len(found) != len(set(numbers)):
            form.add_error(None, _("Both account numbers must exist."))
            return False
        debit = found[numbers[0]]
        try:
            amount_minor = parse_amount(form.cleaned_data["amount"], debit.currency)
        except ApplicationError as exc:
            form.add_error("amount", exc.message)
            return False
        ok, proposal = call_service(
            request, ledger_adjustment_propose, _("Adjustment"),
            debit_account_id=debit.pk, credit_account_id=found[numbers[1]].pk,
            amount_minor=amount_minor, reason=form.cleaned_data["reason"],
        )  # fmt: skip
        if ok:
            messages.success(
                request, _("Adjustment proposed (request %(pk)s).") % {"pk": proposal.pk}
            )
        return ok


admin.site.unregister(Transfer)
admin.site.register(Transfer, TransferCorrectionAdmin)
