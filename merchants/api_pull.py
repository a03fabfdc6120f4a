"""Greenfield refunds (a pull payment for the payer), pull payments and their payouts.

The pull payment's own paths are public, as in BTCPay: whoever holds its id (the
payer, sent the link by the merchant) reads it and claims it. Approving, cancelling
and marking payouts need the store's key.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from custody.models import Withdrawal, WithdrawalStatus
from merchants.api import (
    ERRORS,
    IDEMPOTENCY_HEADER,
    INVOICE_ID,
    STORE_ID,
    WRITE_ERRORS,
    MerchantApiView,
    client_ip,
)
from merchants.api_params import bool_param
from merchants.auth import ClientRateThrottle
from merchants.models import PayoutState, PullPayment, PullPaymentPayout
from merchants.presenters import btc, public_url, unix
from merchants.serializers import AmountField
from merchants.services import pull_payments as pull_services
from merchants.services.keys import (
    SCOPE_CREATE_REFUND_PULL,
    SCOPE_MANAGE_PAYOUTS,
    SCOPE_VIEW_PAYOUTS,
    SCOPE_VIEW_PULL_PAYMENTS,
)

PULL_PAYMENT_ID = OpenApiParameter("pull_payment_id", OpenApiTypes.STR, OpenApiParameter.PATH)
PAYOUT_ID = OpenApiParameter("payout_id", OpenApiTypes.STR, OpenApiParameter.PATH)
WITHDRAWAL_STATE: dict[str, str] = {
    WithdrawalStatus.BATCHED: PayoutState.IN_PROGRESS,
    WithdrawalStatus.BROADCAST: PayoutState.IN_PROGRESS,
    WithdrawalStatus.CONFIRMED: PayoutState.COMPLETED,
    WithdrawalStatus.REJECTED: PayoutState.CANCELLED,
    WithdrawalStatus.CANCELLED: PayoutState.CANCELLED,
    WithdrawalStatus.FAILED: PayoutState.CANCELLED,
}
PULL_EXAMPLE = {
    "id": "3kd8fXUp2WZxQ9rT7bNc4m",
    "name": "Refund HMprBnL9BTXWuPvpoKBS6e",
    "description": "",
    "currency": "BTC",
    "amount": "0.00150000",
    "BOLT11Expiration": "30",
    "autoApproveClaims": False,
    "archived": False,
    "viewLink": "https://bank.alatau.example/api/v1/pull-payments/3kd8fXUp2WZxQ9rT7bNc4m",
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
    viewLink = serializers.CharField()


class ClaimIn(serializers.Serializer):
    destination = serializers.CharField(max_length=100)
    amount = AmountField(required=False, allow_null=True)
    payoutMethodId = serializers.CharField(required=False, allow_null=True, max_length=20)


class ApproveIn(serializers.Serializer):
    revision = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=10**6
    )
    rateRule = serializers.CharField(required=False, allow_null=True, max_length=200)


class PullPayoutOut(serializers.Serializer):
    id = serializers.CharField()
    revision = serializers.IntegerField()
    pullPaymentId = serializers.CharField()
    date = serializers.CharField(help_text="Unix seconds, as a string (Greenfield's type).")
    destination = serializers.CharField()
    originalCurrency = serializers.CharField()
    originalAmount = serializers.CharField()
    payoutCurrency = serializers.CharField()
    payoutAmount = serializers.CharField(allow_null=True)
    payoutMethodId = serializers.CharField()
    state = serializers.ChoiceField(choices=PayoutState.values)
    metadata = serializers.DictField()


def pull_payment_json(pull: PullPayment) -> dict[str, Any]:
    return {
        "id": pull.id,
        "name": pull.name,
        "description": pull.description,
        "currency": "BTC",
        "amount": btc(pull.amount_sats),
        "BOLT11Expiration": "30",
        "autoApproveClaims": False,
        "archived": pull.archived,
        # Alatau has no claim page yet: the link is the public JSON, claimed by POST .../payouts.
        "viewLink": public_url(f"/api/v1/pull-payments/{pull.id}"),
    }


def claim_state(claim: PullPaymentPayout, withdrawal_status: str | None) -> str:
    """An approved claim's state follows its withdrawal (InProgress once batched, ...)."""
    if claim.state != PayoutState.AWAITING_PAYMENT or withdrawal_status is None:
        return str(claim.state)
    return str(WITHDRAWAL_STATE.get(withdrawal_status, PayoutState.AWAITING_PAYMENT))


def claims_json(claims: list[PullPaymentPayout]) -> list[dict[str, Any]]:
    ids = [c.payout.withdrawal_id for c in claims if c.payout and c.payout.withdrawal_id]
    statuses = dict(Withdrawal.objects.filter(pk__in=ids).values_list("pk", "status"))
    out = []
    for claim in claims:
        withdrawal = claim.payout.withdrawal_id if claim.payout else None
        out.append(claim_json(claim, statuses.get(withdrawal or 0)))
    return out


def claim_json(claim: PullPaymentPayout, withdrawal_status: str | None) -> dict[str, Any]:
    approved = claim.payout_id is not None
    return {
        "id": claim.id,
        "revision": claim.revision,
        "pullPaymentId": claim.pull_payment_id,
        "date": str(unix(claim.created_at)),
        "destination": claim.destination,
        "originalCurrency": "BTC",
        "originalAmount": btc(claim.amount_sats),
        "payoutCurrency": "BTC",
        "payoutAmount": btc(claim.amount_sats) if approved else None,
        "payoutMethodId": pull_services.PAYOUT_METHOD,
        "state": claim_state(claim, withdrawal_status),
        "metadata": {},
    }


def _claims(query: Any) -> list[PullPaymentPayout]:
    return list(query.select_related("payout").order_by("-created_at")[:100])


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
        "All refunds of an invoice together never exceed what it received.",
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
    """The store's pull payments."""

    required_scopes = {"GET": SCOPE_VIEW_PULL_PAYMENTS}

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


class PublicPullApiView(MerchantApiView):
    """Public pull-payment paths: no key, a per-client rate limit, JSON errors."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [ClientRateThrottle]

    def pull(self, pull_payment_id: str) -> PullPayment:
        pull = PullPayment.objects.select_related("merchant").filter(pk=pull_payment_id).first()
        if pull is None:
            raise pull_services.PullPaymentNotFound()
        return pull


class PullPaymentApi(PublicPullApiView):
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
        return Response(pull_payment_json(self.pull(pull_payment_id)))


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
        if not bool_param(request, "includeCancelled", False):
            query = query.exclude(state=PayoutState.CANCELLED)
        return Response(claims_json(_claims(query)))

    @extend_schema(
        operation_id="PullPayments_CreatePayout",
        tags=["Pull payments (public)"],
        summary="Create Payout",
        description="Claim (part of) the pull payment to a bitcoin address; the store approves.",
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
            claim = pull_services.pull_payment_claim(
                pull_payment_id=pull.id,
                destination=data["destination"],
                amount=data.get("amount"),
                payout_method=data.get("payoutMethodId"),
            )
            return Response(claim_json(claim, None))

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
        claims = _claims(self.pull(pull_payment_id).payouts.filter(pk=payout_id))
        if not claims:
            raise pull_services.PayoutNotFound()
        return Response(claims_json(claims)[0])


def store_claim_json(merchant: Any, payout_id: str) -> dict[str, Any]:
    query = PullPaymentPayout.objects.filter(pk=payout_id, pull_payment__merchant=merchant)
    claims = _claims(query)
    if not claims:
        raise pull_services.PayoutNotFound()
    return claims_json(claims)[0]


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
    def get(self, request: Request, payout_id: str) -> Response:
        return Response(store_claim_json(self.api_key.merchant, payout_id))

    @extend_schema(
        operation_id="PullPayments_ApprovePayout",
        tags=["Payouts"],
        summary="Approve Payout",
        description="Sends the bitcoin: a withdrawal from the store's BTC account through the "
        "bank's withdrawal flow (screened, maybe reviewed; the bank's fee is added). "
        "Only an `AwaitingApproval` payout (422 otherwise).",
        parameters=[PAYOUT_ID, IDEMPOTENCY_HEADER],
        request=ApproveIn,
        responses={200: PullPayoutOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Approve", request_only=True, value={"revision": 0}),
            OpenApiExample(
                "Approved",
                response_only=True,
                value={**PAYOUT_EXAMPLE, "state": "AwaitingPayment", "payoutAmount": "0.00150000"},
            ),
        ],
    )
    def post(self, request: Request, payout_id: str) -> Response:
        merchant = self.api_key.merchant

        def run() -> Response:
            data = self.body(ApproveIn)
            claim = pull_services.payout_approve(
                merchant=merchant,
                payout_id=payout_id,
                revision=data.get("revision"),
                actor=merchant.owner,
                client_address=client_ip(request),
            )
            return Response(store_claim_json(merchant, claim.id))

        return self.idempotent(merchant, run)

    @extend_schema(
        operation_id="PullPayments_CancelPayout",
        tags=["Payouts"],
        summary="Cancel Payout",
        parameters=[PAYOUT_ID],
        responses={200: PullPayoutOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Cancelled", response_only=True, value={**PAYOUT_EXAMPLE, "state": "Cancelled"}
            )
        ],
    )
    def delete(self, request: Request, payout_id: str) -> Response:
        merchant = self.api_key.merchant
        claim = pull_services.payout_cancel(
            merchant=merchant, payout_id=payout_id, actor=merchant.owner
        )
        return Response(store_claim_json(merchant, claim.id))


class PayoutMarkPaidApi(MerchantApiView):
    """Mark a payout paid outside the bank."""

    moves_money = True

    required_scopes = {"POST": SCOPE_MANAGE_PAYOUTS}

    @extend_schema(
        operation_id="PullPayments_MarkPayoutPaid",
        tags=["Payouts"],
        summary="Mark Payout as Paid",
        description="For a payout you paid outside the bank; only while `AwaitingApproval`.",
        parameters=[PAYOUT_ID, IDEMPOTENCY_HEADER],
        request=None,
        responses={200: PullPayoutOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Paid", response_only=True, value={**PAYOUT_EXAMPLE, "state": "Completed"}
            )
        ],
    )
    def post(self, request: Request, payout_id: str) -> Response:
        merchant = self.api_key.merchant

        def run() -> Response:
            claim = pull_services.payout_mark_paid(
                merchant=merchant, payout_id=payout_id, actor=merchant.owner
            )
            return Response(store_claim_json(merchant, claim.id))

        return self.idempotent(merchant, run)
