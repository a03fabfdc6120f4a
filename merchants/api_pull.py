"""Greenfield refunds (a pull payment for the payer) and pull payments; claims on them.

The pull payment's own paths are public, as in BTCPay: whoever holds its id (the
payer, sent the link by the merchant) reads it and claims it. Creating and archiving
need the store's key; so do approving, cancelling and marking payouts (``api_payouts``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from merchants.api import (
    ERRORS,
    IDEMPOTENCY_HEADER,
    INVOICE_ID,
    STORE_ID,
    WRITE_ERRORS,
    MerchantApiView,
)
from merchants.api_params import bool_param
from merchants.auth import ClientRateThrottle
from merchants.models import PayoutState, PullPayment
from merchants.presenters_pull import payouts_page, pull_payment_json
from merchants.serializers import AmountField, TravelRuleIn
from merchants.services import pull_payments as pull_services
from merchants.services.keys import (
    SCOPE_ARCHIVE_PULL,
    SCOPE_CREATE_REFUND_PULL,
    SCOPE_VIEW_PULL_PAYMENTS,
)
from merchants.services.payout_states import PayoutNotFound

PULL_PAYMENT_ID = OpenApiParameter("pull_payment_id", OpenApiTypes.STR, OpenApiParameter.PATH)
PAYOUT_ID = OpenApiParameter("payout_id", OpenApiTypes.STR, OpenApiParameter.PATH)
PULL_EXAMPLE = {
    "id": "3kd8fXUp2WZxQ9rT7bNc4m",
    "name": "Refund HMprBnL9BTXWuPvpoKBS6e",
    "description": "",
    "currency": "BTC",
    "amount": "0.00150000",
    "BOLT11Expiration": "30",
    "autoApproveClaims": False,
    "archived": False,
    "viewLink": "https://bank.alatau.example/pull-payments/3kd8fXUp2WZxQ9rT7bNc4m",
    "startsAt": None,
    "expiresAt": None,
}
PAYOUT_EXAMPLE = {
    "id": "9Tn2cYkLmQ4xZ7pR1sVbWd",
    "revision": 0,
    "pullPaymentId": "3kd8fXUp2WZxQ9rT7bNc4m",
    "date": "1764000500",
    "destination": "bcrt1qexampleaddress0000000000000000000000",
    "originalCurrency": "BTC",
    "originalAmount": "0.00150000",
    "payoutCurrency": "BTC",
    "payoutAmount": None,
    "payoutMethodId": "BTC-CHAIN",
    "state": "AwaitingApproval",
    "metadata": {},
    "kind": "OnChain",
    "amount": "0.00150000",
    "withdrawalId": None,
    "status": None,
    "createdTime": 1764000500,
}


class GreenfieldRefundIn(serializers.Serializer):
    refundVariant = serializers.ChoiceField(choices=list(pull_services.REFUND_VARIANTS))
    name = serializers.CharField(required=False, allow_null=True, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    payoutMethods = serializers.ListField(
        child=serializers.ChoiceField(choices=[pull_services.PAYOUT_METHOD]),
        required=False,
        allow_null=True,
        max_length=1,
    )
    subtractPercentage = AmountField(required=False, allow_null=True)
    customAmount = AmountField(required=False, allow_null=True)
    customCurrency = serializers.CharField(required=False, allow_null=True, max_length=3)


class PullPaymentOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    currency = serializers.CharField()
    amount = serializers.CharField()
    BOLT11Expiration = serializers.CharField()
    autoApproveClaims = serializers.BooleanField()
    archived = serializers.BooleanField()
    viewLink = serializers.CharField(help_text="The payee's claim page.")
    startsAt = serializers.IntegerField(allow_null=True, help_text="Alatau: unix seconds.")
    expiresAt = serializers.IntegerField(allow_null=True, help_text="Alatau: unix seconds.")


class PullPaymentIn(serializers.Serializer):
    name = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=200)
    description = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=2000
    )
    amount = AmountField()
    currency = serializers.CharField(max_length=10)
    BOLT11Expiration = serializers.JSONField(required=False, allow_null=True)
    autoApproveClaims = serializers.BooleanField(required=False, allow_null=True)
    startsAt = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=253402300799
    )
    expiresAt = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=253402300799
    )
    payoutMethods = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, allow_null=True, max_length=10
    )
    period = serializers.JSONField(required=False, allow_null=True)

    def validate_autoApproveClaims(self, value: bool | None) -> bool | None:
        if value:
            raise serializers.ValidationError(
                "Alatau does not auto-approve: the store approves every claim (it sends money)."
            )
        return value

    def validate_BOLT11Expiration(self, value: Any) -> Any:
        if value not in (None, 30, "30"):
            raise serializers.ValidationError("Alatau has no Lightning payouts: leave it unset.")
        return value

    def validate_period(self, value: Any) -> Any:
        if value not in (None, 0, "0"):
            raise serializers.ValidationError(
                "Recurring pull payments are not offered: the amount is claimable once."
            )
        return value


class ClaimIn(serializers.Serializer):
    destination = serializers.CharField(max_length=100)
    amount = AmountField(required=False, allow_null=True)
    payoutMethodId = serializers.CharField(required=False, allow_null=True, max_length=40)
    # Alatau's own, beside BTCPay's fields: the beneficiary data the travel rule asks for.
    travelRule = TravelRuleIn(
        required=False,
        allow_null=True,
        help_text="Alatau: beneficiary data, required at or above the travel-rule threshold "
        "(422 at `travelRule` if missing, at `travelRule.<field>` if incomplete).",
    )


def travel_rule_in(data: dict[str, Any] | None) -> dict[str, str] | None:
    """``travelRule`` of a body in the names compliance checks (``travel_rule_validate``)."""
    if not data:
        return None
    return {
        "beneficiary_name": data["beneficiaryName"],
        "wallet": data["wallet"],
        "provider_name": data.get("providerName", ""),
    }


class PullPayoutOut(serializers.Serializer):
    """Greenfield's ``PayoutData``, and Alatau's extras (``kind`` ... ``createdTime``)."""

    id = serializers.CharField()
    revision = serializers.IntegerField()
    pullPaymentId = serializers.CharField(
        allow_null=True, help_text="null for the store's own payout."
    )
    date = serializers.CharField(help_text="Unix seconds, as a string (Greenfield's type).")
    destination = serializers.CharField()
    originalCurrency = serializers.CharField()
    originalAmount = serializers.CharField()
    payoutCurrency = serializers.CharField()
    payoutAmount = serializers.CharField(allow_null=True)
    payoutMethodId = serializers.CharField()
    state = serializers.ChoiceField(choices=PayoutState.values)
    metadata = serializers.DictField()
    paymentProof = serializers.DictField(
        required=False,
        help_text="Once the bank broadcast the payout, BTCPay's on-chain proof "
        '`{"proofType": "PayoutTransactionOnChainBlob", "transactionId", "candidates", '
        '"link"}`; before, the proof the store gave with `mark`, if any.',
    )
    kind = serializers.CharField(help_text="Alatau: OnChain.")
    amount = serializers.CharField(help_text="Alatau: the BTC amount.")
    withdrawalId = serializers.IntegerField(allow_null=True, help_text="Alatau: once approved.")
    status = serializers.CharField(allow_null=True, help_text="Alatau: the withdrawal's status.")
    createdTime = serializers.IntegerField(help_text="Alatau: unix seconds.")


def _when(seconds: int | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


class InvoiceRefundApi(MerchantApiView):
    """Greenfield's refund: a pull payment the payer claims to an address."""

    moves_money = True

    required_scopes = {"POST": SCOPE_CREATE_REFUND_PULL}

    @extend_schema(
        operation_id="Invoices_Refund",
        tags=["Invoices"],
        summary="Refund invoice",
        description="Creates a pull payment for the payer (no money moves yet): send them its "
        "`viewLink`/id; they claim it with a payout to their address, you approve it (the bank "
        "then sends the bitcoin from your BTC account). `RateThen`/`CurrentRate`: the invoice "
        "price in BTC (CurrentRate: KZT invoices at today's rate); `OverpaidAmount`; `Custom` "
        "(`customAmount` in BTC or KZT); `Fiat` is refused. `subtractPercentage` keeps a part. "
        "All refunds of an invoice together never exceed what it received. An invoice "
        "settled to KZT: approving a claim first buys its bitcoin (amount plus withdrawal "
        "fee) back with the store's KZT at the bank's ask.",
        parameters=[STORE_ID, INVOICE_ID, IDEMPOTENCY_HEADER],
        request=GreenfieldRefundIn,
        responses={200: PullPaymentOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Refund",
                request_only=True,
                value={"refundVariant": "RateThen", "subtractPercentage": "2.5"},
            ),
            OpenApiExample("Pull payment", response_only=True, value=PULL_EXAMPLE),
        ],
    )
    def post(self, request: Request, invoice_id: str, store_id: str | None = None) -> Response:
        merchant = self.merchant(store_id)

        def run() -> Response:
            data = self.body(GreenfieldRefundIn)
            pull = pull_services.invoice_refund_pull_payment(
                merchant=merchant,
                invoice_id=invoice_id,
                variant=data["refundVariant"],
                subtract_percentage=data.get("subtractPercentage"),
                custom={k: data.get(k) for k in ("customAmount", "customCurrency")},
                name=data.get("name"),
                description=data.get("description") or "",
                actor=merchant.owner,
            )
            return Response(pull_payment_json(pull))

        return self.idempotent(merchant, run)


class StorePullPaymentsApi(MerchantApiView):
    """The store's pull payments: list, create."""

    required_scopes = {"GET": SCOPE_VIEW_PULL_PAYMENTS, "POST": SCOPE_CREATE_REFUND_PULL}

    @extend_schema(
        operation_id="PullPayments_GetPullPayments",
        tags=["Pull payments"],
        summary="Get store's pull payments",
        parameters=[STORE_ID, OpenApiParameter("includeArchived", OpenApiTypes.BOOL)],
        responses={200: PullPaymentOut(many=True), **ERRORS},
        examples=[OpenApiExample("Pull payments", response_only=True, value=PULL_EXAMPLE)],
    )
    def get(self, request: Request, store_id: str) -> Response:
        query = self.merchant(store_id).pull_payments.all()
        if not bool_param(request, "includeArchived", False):
            query = query.filter(archived=False)
        return Response([pull_payment_json(p) for p in query.order_by("-created_at")[:100]])

    @extend_schema(
        operation_id="PullPayments_CreatePullPayment",
        tags=["Pull payments"],
        summary="Create a new pull payment",
        description="An amount of the store's bitcoin its holder may claim with payouts, "
        "each approved by the store through the bank's payout controls: the payout goes only "
        "to an address on the store's allow-list (past its cool-down). BTC only; "
        "`startsAt`/`expiresAt` bound the claims; `autoApproveClaims`, `period` and a "
        "`BOLT11Expiration` other than 30 are refused (422); `payoutMethods`: BTC-CHAIN.",
        parameters=[STORE_ID, IDEMPOTENCY_HEADER],
        request=PullPaymentIn,
        responses={200: PullPaymentOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Pull payment",
                request_only=True,
                value={"name": "Salary", "amount": "0.0015", "currency": "BTC"},
            ),
            OpenApiExample("Created", response_only=True, value=PULL_EXAMPLE),
        ],
    )
    def post(self, request: Request, store_id: str) -> Response:
        merchant = self.merchant(store_id)

        def run() -> Response:
            data = self.body(PullPaymentIn)
            pull = pull_services.pull_payment_create(
                merchant=merchant,
                name=data.get("name"),
                description=data.get("description"),
                amount=data["amount"],
                currency=data["currency"],
                starts_at=_when(data.get("startsAt")),
                expires_at=_when(data.get("expiresAt")),
                payout_methods=data.get("payoutMethods"),
                actor=merchant.owner,
            )
            return Response(pull_payment_json(pull))

        return self.idempotent(merchant, run)


ARCHIVE_SCHEMA = extend_schema(
    operation_id="PullPayments_ArchivePullPayment",
    tags=["Pull payments"],
    summary="Archive a pull payment",
    description="No more claims; its payouts awaiting approval are cancelled (approved ones "
    "stay with the bank's withdrawal).",
    parameters=[PULL_PAYMENT_ID],
    responses={200: PullPaymentOut, **ERRORS},
    examples=[
        OpenApiExample("Archived", response_only=True, value={**PULL_EXAMPLE, "archived": True})
    ],
)


def _archive(view: MerchantApiView, store_id: str | None, pull_payment_id: str) -> Response:
    merchant = view.merchant(store_id)
    pull = pull_services.pull_payment_archive(
        merchant=merchant, pull_payment_id=pull_payment_id, actor=merchant.owner
    )
    return Response(pull_payment_json(pull))


class StorePullPaymentApi(MerchantApiView):
    """``DELETE /stores/{storeId}/pull-payments/{pullPaymentId}``: archive (hidden alias)."""

    required_scopes = {"DELETE": SCOPE_ARCHIVE_PULL}

    @ARCHIVE_SCHEMA
    def delete(self, request: Request, store_id: str, pull_payment_id: str) -> Response:
        return _archive(self, store_id, pull_payment_id)


def public_pull(pull_payment_id: str) -> PullPayment:
    pull = PullPayment.objects.select_related("merchant").filter(pk=pull_payment_id).first()
    if pull is None:
        raise pull_services.PullPaymentNotFound()
    return pull


class PublicPullApiView(MerchantApiView):
    """Public pull-payment paths: no key, a per-client rate limit, JSON errors."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [ClientRateThrottle]

    def pull(self, pull_payment_id: str) -> PullPayment:
        return public_pull(pull_payment_id)


class PullPaymentApi(MerchantApiView):
    """Read a pull payment (public, as in BTCPay); archive it (the store's key)."""

    required_scopes = {"DELETE": SCOPE_ARCHIVE_PULL}

    def get_permissions(self) -> list[Any]:
        if self.request.method in ("GET", "HEAD"):
            return [AllowAny()]
        return list(super().get_permissions())

    def get_throttles(self) -> list[Any]:
        if self.request.method in ("GET", "HEAD"):
            return [ClientRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        operation_id="PullPayments_GetPullPayment",
        tags=["Pull payments (public)"],
        summary="Get pull payment",
        auth=[],
        parameters=[PULL_PAYMENT_ID],
        responses={200: PullPaymentOut, **ERRORS},
        examples=[OpenApiExample("Pull payment", response_only=True, value=PULL_EXAMPLE)],
    )
    def get(self, request: Request, pull_payment_id: str) -> Response:
        return Response(pull_payment_json(public_pull(pull_payment_id)))

    @ARCHIVE_SCHEMA
    def delete(self, request: Request, pull_payment_id: str) -> Response:
        return _archive(self, None, pull_payment_id)


class PullPaymentPayoutsApi(PublicPullApiView):
    @extend_schema(
        operation_id="PullPayments_GetPayouts",
        tags=["Pull payments (public)"],
        summary="Get payouts",
        auth=[],
        parameters=[PULL_PAYMENT_ID, OpenApiParameter("includeCancelled", OpenApiTypes.BOOL)],
        responses={200: PullPayoutOut(many=True), **ERRORS},
        examples=[OpenApiExample("Payouts", response_only=True, value=PAYOUT_EXAMPLE)],
    )
    def get(self, request: Request, pull_payment_id: str) -> Response:
        query = self.pull(pull_payment_id).payouts.all()
        return Response(
            payouts_page(query, cancelled=bool_param(request, "includeCancelled", False))
        )

    @extend_schema(
        operation_id="PullPayments_CreatePayout",
        tags=["Pull payments (public)"],
        summary="Create Payout",
        description="Claim (part of) the pull payment to a bitcoin address; the store approves. "
        "400 `overdraft` (more than is left), `archived`, `expired`, `not-started`, "
        "`payment-method-not-supported`; 422 for a bad destination or amount.",
        auth=[],
        parameters=[PULL_PAYMENT_ID, IDEMPOTENCY_HEADER],
        request=ClaimIn,
        responses={200: PullPayoutOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Claim",
                request_only=True,
                value={
                    "destination": "bcrt1qexampleaddress0000000000000000000000",
                    "amount": "0.00150000",
                    "payoutMethodId": "BTC-CHAIN",
                },
            ),
            OpenApiExample("Payout", response_only=True, value=PAYOUT_EXAMPLE),
        ],
    )
    def post(self, request: Request, pull_payment_id: str) -> Response:
        pull = self.pull(pull_payment_id)

        def run() -> Response:
            data = self.body(ClaimIn)
            row = pull_services.payout_create(
                pull_payment_id=pull.id,
                merchant=None,
                destination=data["destination"],
                amount=data.get("amount"),
                payout_method=data.get("payoutMethodId"),
                travel_rule=travel_rule_in(data.get("travelRule")),
            )
            return Response(payouts_page(pull.payouts.filter(pk=row.id))[0])

        return self.idempotent(pull.merchant, run)


class PullPaymentPayoutApi(PublicPullApiView):
    @extend_schema(
        operation_id="PullPayments_GetPayout",
        tags=["Pull payments (public)"],
        summary="Get Payout",
        auth=[],
        parameters=[PULL_PAYMENT_ID, PAYOUT_ID],
        responses={200: PullPayoutOut, **ERRORS},
        examples=[OpenApiExample("Payout", response_only=True, value=PAYOUT_EXAMPLE)],
    )
    def get(self, request: Request, pull_payment_id: str, payout_id: str) -> Response:
        found = payouts_page(self.pull(pull_payment_id).payouts.filter(pk=payout_id))
        if not found:
            raise PayoutNotFound()
        return Response(found[0])
