"""Staff views of custody. Read-only: every change goes through a service."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.access import acting_user
from compliance.permissions import has_perm
from core.admin_tools import ReadOnlyAdmin, ReasonActionForm, call_service, reason_of
from core.db_reads import LaggingReadsAdmin
from core.errors import ApplicationError
from core.http import client_address
from custody.hotwallet.fees import fee_rate_sat_vb
from custody.models import (
    Deposit,
    DepositAddress,
    FeeBump,
    Wallet,
    Withdrawal,
    WithdrawalAddress,
    WithdrawalBatch,
)
from custody.node import hot_wallet
from custody.services.fee_bumps import PERMISSION as BUMP_PERMISSION
from custody.services.fee_bumps import fee_bump_request
from custody.services.review import (
    REVIEW_PERMISSION,
    withdrawal_review_approve,
    withdrawal_review_reject,
)


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "created_at"]


@admin.register(DepositAddress)
class DepositAddressAdmin(ReadOnlyAdmin):
    list_display = ["address", "account", "purpose", "required_confirmations", "created_at"]
    list_filter = ["purpose"]
    search_fields = ["address", "account__number"]
    list_select_related = ["account"]


@admin.register(Deposit)
class DepositAdmin(LaggingReadsAdmin, ReadOnlyAdmin):
    list_display = ["txid", "vout", "address", "amount_sats", "status", "confirmations", "seen_at"]
    list_filter = ["status"]
    search_fields = ["txid", "address"]


@admin.register(WithdrawalBatch)
class WithdrawalBatchAdmin(ReadOnlyAdmin):
    list_display = ["txid", "status", "fee_sats", "fee_rate_sat_vb", "vsize", "confirmations",
                    "created_at"]  # fmt: skip
    list_filter = ["status"]
    search_fields = ["txid"]
    exclude = ["raw_tx"]
    action_form = ReasonActionForm
    actions = ["speed_up"]

    def has_bump_permission(self, request: HttpRequest) -> bool:
        return has_perm(request.user, BUMP_PERMISSION)

    @admin.action(description=gettext_lazy("Speed up to today's fee rate (CPFP; reason required)"),
                  permissions=["bump"])  # fmt: skip
    def speed_up(self, request: HttpRequest, queryset: QuerySet[WithdrawalBatch]) -> None:
        try:
            rate = fee_rate_sat_vb(hot_wallet())
        except ApplicationError as exc:
            messages.error(
                request, _("The node did not give a fee rate: %(error)s") % {"error": exc.message}
            )
            return
        for batch in queryset:
            ok, bump = call_service(request, fee_bump_request, _("Batch %(pk)s") % {"pk": batch.pk},
                                    batch_id=batch.pk, fee_rate_sat_vb=rate,
                                    reason=reason_of(request))  # fmt: skip
            if ok:
                messages.success(request, _("Batch %(pk)s: bump to %(rate)s sat/vB %(status)s "
                                            "(a second person approves above the bound).")
                                 % {"pk": batch.pk, "rate": rate, "status": bump.get_status_display()})  # fmt: skip


@admin.register(FeeBump)
class FeeBumpAdmin(ReadOnlyAdmin):
    list_display = ["id", "batch", "status", "fee_rate_sat_vb", "fee_sats", "txid",
                    "requested_by", "approved_by", "created_at"]  # fmt: skip
    list_filter = ["status"]
    exclude = ["raw_tx"]


def _review(request: HttpRequest, queryset: QuerySet[Withdrawal], approve: bool) -> None:
    # Through the review services: they close the withdrawal's cases and send large
    # withdrawals to four eyes instead of approving them outright.
    verb = "approved" if approve else "rejected"
    done = proposed = 0
    for withdrawal in queryset:
        reason = f"{verb} in the admin by {request.user}"
        address = client_address(request)
        try:
            if approve:
                proposal = withdrawal_review_approve(
                    withdrawal_id=withdrawal.pk, actor=acting_user(request), reason=reason,
                    client_address=address,
                )  # fmt: skip
                if proposal is not None:
                    proposed += 1
                    continue
            else:
                withdrawal_review_reject(
                    withdrawal_id=withdrawal.pk, actor=acting_user(request), reason=reason,
                    client_address=address,
                )  # fmt: skip
        except ApplicationError as exc:
            messages.error(request, f"W{withdrawal.pk}: {exc.message}")
        else:
            done += 1
    if done:
        text = (
            ngettext("%(n)d withdrawal approved.", "%(n)d withdrawals approved.", done)
            if approve
            else ngettext("%(n)d withdrawal rejected.", "%(n)d withdrawals rejected.", done)
        )
        messages.success(request, text % {"n": done})
    if proposed:
        text = ngettext(
            "%(n)d large withdrawal proposed: a second staff member must approve.",
            "%(n)d large withdrawals proposed: a second staff member must approve.",
            proposed,
        )
        messages.warning(request, text % {"n": proposed})


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = ["pk", "account", "address", "amount_sats", "fee_sats", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["address", "account__number", "batch__txid"]
    list_select_related = ["account"]
    actions = ["approve", "reject"]

    def has_review_permission(self, request: HttpRequest) -> bool:
        return has_perm(request.user, REVIEW_PERMISSION)

    @admin.action(description=gettext_lazy("Approve selected withdrawals"), permissions=["review"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Withdrawal]) -> None:
        _review(request, queryset, approve=True)

    @admin.action(description=gettext_lazy("Reject selected withdrawals"), permissions=["review"])
    def reject(self, request: HttpRequest, queryset: QuerySet[Withdrawal]) -> None:
        _review(request, queryset, approve=False)


@admin.register(WithdrawalAddress)
class WithdrawalAddressAdmin(ReadOnlyAdmin):
    list_display = ["user", "label", "address", "created_at", "usable_from", "removed_at"]
    search_fields = ["user__email", "address"]
