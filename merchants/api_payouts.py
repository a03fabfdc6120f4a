"""Greenfield payouts: the store's list and its own payouts; get, approve, cancel, mark.

Approval sends bitcoin (a withdrawal through the bank's controls), so every write here
is idempotent. BTCPay serves ``/payouts/{payoutId}`` at the top level (the store from
the key) and clients also call ``/stores/{storeId}/payouts/{payoutId}``: both answer.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from merchants.api import (
    ERRORS,
    IDEMPOTENCY_HEADER,
    STORE_ID,
    WRITE_ERRORS,
    MerchantApiView,
    client_ip,
)
from merchants.api_errors import MissingPermission
from merchants.api_params import bool_param
from merchants.api_pull import PAYOUT_EXAMPLE, PAYOUT_ID, ClaimIn, PullPayoutOut, travel_rule_in
from merchants.auth import IsApiKey
from merchants.models import Merchant, PayoutState
from merchants.presenters_pull import payouts_page
from merchants.services import payout_states
from merchants.services.keys import (
    SCOPE_CREATE_PULL,
    SCOPE_CREATE_REFUND_PULL,
    SCOPE_MANAGE_PAYOUTS,
    SCOPE_PAYOUT,
    SCOPE_VIEW_PAYOUTS,
    scopes_effective,
)

APPROVED_EXAMPLE = {**PAYOUT_EXAMPLE, "state": "AwaitingPayment", "payoutAmount": "0.00150000"}


class StorePayoutIn(ClaimIn):
    pullPaymentId = serializers.CharField(required=False, allow_null=True, max_length=32)
    approved = serializers.BooleanField(required=False, allow_null=True)
    metadata = serializers.DictField(required=False, allow_null=True)

    def validate_metadata(self, value: Any) -> Any:
        if value is not None and len(str(value)) > 4000:
            raise serializers.ValidationError("At most 4000 characters of metadata.")
        return value


class ApproveIn(serializers.Serializer):
    revision = serializers.IntegerField(min_value=0, max_value=10**6)
    rateRule = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=200
    )

    def validate_rateRule(self, value: str | None) -> str | None:
        if value:
            raise serializers.ValidationError("Alatau's payouts are in BTC: no rate applies.")
        return value


class MarkIn(serializers.Serializer):
    state = serializers.ChoiceField(choices=PayoutState.values)
    paymentProof = serializers.DictField(required=False, allow_null=True)


def _one(merchant: Merchant, payout_id: str) -> dict[str, Any]:
    found = payouts_page(merchant.greenfield_payouts.filter(pk=payout_id))
    if not found:
        raise payout_states.PayoutNotFound()
    return found[0]


class StorePayoutsApi(MerchantApiView):
    """The store's payouts: list; create (its own, or a claim on its pull payment)."""

    moves_money = True

    required_scopes = {"GET": SCOPE_VIEW_PAYOUTS, "POST": SCOPE_CREATE_REFUND_PULL}

    def get_permissions(self) -> list[Any]:
        # POST: any valid key here; its scopes are checked in ``post`` (either of two).
        return [IsApiKey()] if self.request.method == "POST" else list(super().get_permissions())

    def _need_any(self, *scopes: str) -> None:
        if not set(scopes) & scopes_effective(self.api_key.scopes):
            raise MissingPermission(scopes[0])

    @extend_schema(
        operation_id="PullPayments_GetStorePayouts",
        tags=["Payouts"],
        summary="Get Store Payouts",
        description="Every on-chain payout of the store (claims on its pull payments, its own "
        "payouts, the merchant web's), newest first, at most 100.",
        parameters=[STORE_ID, OpenApiParameter("includeCancelled", OpenApiTypes.BOOL)],
        responses={200: PullPayoutOut(many=True), **ERRORS},
        examples=[OpenApiExample("Payouts", response_only=True, value=APPROVED_EXAMPLE)],
    )
    def get(self, request: Request, store_id: str) -> Response:
        query = self.merchant(store_id).greenfield_payouts.all()
        return Response(
            payouts_page(query, cancelled=bool_param(request, "includeCancelled", False))
        )

    @extend_schema(
        operation_id="Payouts_CreatePayoutThroughStore",
        tags=["Payouts"],
        summary="Create Payout",
        description="Without `pullPaymentId`: the store's own payout, only to an address on "
        "its allow-list past the cool-down, `amount` required. `approved: true` approves at "
        "once (needs btcpay.store.cancreatepullpayments or alatau.store.canpayout): a "
        "withdrawal from the store's BTC account through the bank's controls (tier limits, "
        "travel rule, screening, review; the bank's fee is added). Otherwise it awaits "
        "approval (`POST /payouts/{payoutId}`).",
        parameters=[STORE_ID, IDEMPOTENCY_HEADER],
        request=StorePayoutIn,
        responses={200: PullPayoutOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Payout",
                request_only=True,
                value={
                    "amount": "0.00150000",
                    "destination": "bcrt1qexampleaddress0000000000000000000000",
                    "approved": True,
                },
            ),
            OpenApiExample("Approved", response_only=True, value=APPROVED_EXAMPLE),
        ],
    )
    def post(self, request: Request, store_id: str) -> Response:
        merchant = self.merchant(store_id)
        self._need_any(SCOPE_CREATE_REFUND_PULL, SCOPE_PAYOUT)

        def run() -> Response:
            data = self.body(StorePayoutIn)
            if data.get("approved"):
                self._need_any(SCOPE_CREATE_PULL, SCOPE_PAYOUT)
            row = payout_states.store_payout_create(
                merchant=merchant,
                destination=data["destination"],
                amount=data.get("amount"),
                payout_method=data.get("payoutMethodId"),
                pull_payment_id=data.get("pullPaymentId"),
                approved=bool(data.get("approved")),
                metadata=data.get("metadata"),
                travel_rule=travel_rule_in(data.get("travelRule")),
                actor=merchant.owner,
                client_address=client_ip(request),
            )
            return Response(_one(merchant, row.id))

        return self.idempotent(merchant, run)


class PayoutApi(MerchantApiView):
    """One payout of the store: read, approve (POST), cancel (DELETE)."""

    moves_money = True

    required_scopes = {
        "GET": SCOPE_VIEW_PAYOUTS,
        "POST": SCOPE_MANAGE_PAYOUTS,
        "DELETE": SCOPE_MANAGE_PAYOUTS,
    }

    @extend_schema(
        operation_id="GetStorePayout",
        tags=["Payouts"],
        summary="Get Payout",
        parameters=[PAYOUT_ID],
        responses={200: PullPayoutOut, **ERRORS},
        examples=[OpenApiExample("Payout", response_only=True, value=PAYOUT_EXAMPLE)],
    )
    def get(self, request: Request, payout_id: str, store_id: str | None = None) -> Response:
        return Response(_one(self.merchant(store_id), payout_id))

    @extend_schema(
        operation_id="PullPayments_ApprovePayout",
        tags=["Payouts"],
        summary="Approve Payout",
        description="Sends the bitcoin: a withdrawal from the store's BTC account through the "
        "bank's controls (allow-list except for an invoice refund's claim, tier limits, travel "
        "rule, screening, maybe review; the bank's fee is added). `revision` is required; "
        "400 `invalid-state` unless `AwaitingApproval`, 400 `old-revision`; a `rateRule` is "
        "refused (422: BTC needs no rate). A claim on the refund of an invoice settled to "
        "KZT first buys its amount plus the fee back with the store's KZT at the bank's ask "
        "(tiyn rounded up), in the same transaction; a short KZT balance is a 422 naming the "
        "cost and the balance, and nothing is written.",
        parameters=[PAYOUT_ID, IDEMPOTENCY_HEADER],
        request=ApproveIn,
        responses={200: PullPayoutOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Approve", request_only=True, value={"revision": 0}),
            OpenApiExample("Approved", response_only=True, value=APPROVED_EXAMPLE),
        ],
    )
    def post(self, request: Request, payout_id: str, store_id: str | None = None) -> Response:
        merchant = self.merchant(store_id)

        def run() -> Response:
            data = self.body(ApproveIn)
            row = payout_states.payout_approve(
                merchant=merchant,
                payout_id=payout_id,
                revision=data["revision"],
                actor=merchant.owner,
                client_address=client_ip(request),
            )
            return Response(_one(merchant, row.id))

        return self.idempotent(merchant, run)

    @extend_schema(
        operation_id="PullPayments_CancelPayout",
        tags=["Payouts"],
        summary="Cancel Payout",
        description="`AwaitingApproval`, or `AwaitingPayment` while the bank has not batched "
        "its withdrawal (the hold is released); a cancelled one answers as it is. 400 "
        "`invalid-state` once `InProgress` or `Completed`.",
        parameters=[PAYOUT_ID],
        responses={200: PullPayoutOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Cancelled", response_only=True, value={**PAYOUT_EXAMPLE, "state": "Cancelled"}
            )
        ],
    )
    def delete(self, request: Request, payout_id: str, store_id: str | None = None) -> Response:
        merchant = self.merchant(store_id)
        row = payout_states.payout_cancel(
            merchant=merchant, payout_id=payout_id, actor=merchant.owner
        )
        return Response(_one(merchant, row.id))


MARK_NOTE = (
    "BTCPay refuses a payout not yet approved (400 `invalid-state`). The bank pays every "
    "approved payout itself and its state follows the withdrawal: marking it with another "
    "state is refused the same way."
)


class PayoutMarkPaidApi(MerchantApiView):
    """Mark a payout paid."""

    moves_money = True

    required_scopes = {"POST": SCOPE_MANAGE_PAYOUTS}

    @extend_schema(
        operation_id="PullPayments_MarkPayoutPaid",
        tags=["Payouts"],
        summary="Mark Payout as Paid",
        description=MARK_NOTE,
        parameters=[PAYOUT_ID, IDEMPOTENCY_HEADER],
        request=None,
        responses={200: PullPayoutOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Paid", response_only=True, value={**APPROVED_EXAMPLE, "state": "Completed"}
            )
        ],
    )
    def post(self, request: Request, payout_id: str, store_id: str | None = None) -> Response:
        merchant = self.merchant(store_id)

        def run() -> Response:
            row = payout_states.payout_mark(
                merchant=merchant,
                payout_id=payout_id,
                state=PayoutState.COMPLETED,
                proof=None,
                actor=merchant.owner,
            )
            return Response(_one(merchant, row.id))

        return self.idempotent(merchant, run)


class PayoutMarkApi(MerchantApiView):
    """Mark a payout with a state."""

    moves_money = True

    required_scopes = {"POST": SCOPE_MANAGE_PAYOUTS}

    @extend_schema(
        operation_id="PullPayments_MarkPayout",
        tags=["Payouts"],
        summary="Mark Payout",
        description=MARK_NOTE + " `state: AwaitingApproval` is refused (422).",
        parameters=[PAYOUT_ID, IDEMPOTENCY_HEADER],
        request=MarkIn,
        responses={200: PullPayoutOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Mark", request_only=True, value={"state": "AwaitingPayment"}),
            OpenApiExample("Marked", response_only=True, value=APPROVED_EXAMPLE),
        ],
    )
    def post(self, request: Request, payout_id: str, store_id: str | None = None) -> Response:
        merchant = self.merchant(store_id)

        def run() -> Response:
            data = self.body(MarkIn)
            row = payout_states.payout_mark(
                merchant=merchant,
                payout_id=payout_id,
                state=data["state"],
                proof=data.get("paymentProof"),
                actor=merchant.owner,
            )
            return Response(_one(merchant, row.id))

        return self.idempotent(merchant, run)
