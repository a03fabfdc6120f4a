"""Alatau extensions: refunds, the store's balance and transactions, payouts, conversion."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Account
from core.errors import ValidationFailed
from core.money import format_amount, parse_amount
from merchants.api import (
    ERRORS,
    IDEMPOTENCY_HEADER,
    INVOICE_ID,
    STORE_ID,
    WRITE_ERRORS,
    MerchantApiView,
    client_ip,
)
from merchants.api_params import int_param
from merchants.models import Payout, Refund
from merchants.presenters import unix
from merchants.selectors import merchant_statement
from merchants.serializers import (
    BalanceOut,
    ConversionIn,
    PayoutOut,
    RefundIn,
    RefundOut,
    TransactionPageOut,
)
from merchants.services import payouts as payout_services
from merchants.services.keys import SCOPE_PAYOUT, SCOPE_REFUND, SCOPE_VIEW_STORE
from merchants.services.refunds import invoice_refund

PAYOUT_EXAMPLE = {
    "id": 3,
    "kind": "OnChain",
    "amount": "0.01000000",
    "destination": "bcrt1qexampleaddress0000000000000000000000",
    "kztAmount": None,
    "withdrawalId": 41,
    "status": "approved",
    "createdTime": 1764000200,
}


def refund_json(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.pk,
        "invoiceId": refund.invoice_id,
        "method": refund.method,
        "amount": format_amount(refund.amount_sats, "BTC"),
        "currency": "BTC",
        "address": refund.address,
        "transferId": refund.transfer_id,
        "withdrawalId": refund.withdrawal_id,
        "createdTime": unix(refund.created_at),
    }


def payout_json(payout: Payout, *, withdrawal_status: str | None = None) -> dict[str, Any]:
    """``status`` follows the withdrawal (approved, broadcast, confirmed, ...) when there is one."""
    return {
        "id": payout.pk,
        "kind": payout.kind,
        "amount": format_amount(payout.amount_sats, "BTC"),
        "destination": payout.address,
        "kztAmount": format_amount(payout.kzt_tiyn, "KZT") if payout.kzt_tiyn is not None else None,
        "withdrawalId": payout.withdrawal_id,
        "status": withdrawal_status or payout.status,
        "createdTime": unix(payout.created_at),
    }


class InvoiceRefundsApi(MerchantApiView):
    """Refund a paid invoice."""

    moves_money = True

    required_scopes = {"POST": SCOPE_REFUND}

    @extend_schema(
        operation_id="Alatau_RefundInvoice",
        tags=["Refunds"],
        summary="Refund an invoice",
        description="`InBank`: back to the customer account that paid in-bank, at once. "
        "`OnChain`: a withdrawal from the store's BTC account to `address` (screened; may "
        "wait for review; the bank's withdrawal fee is charged to the store). The total "
        "refunded never exceeds what the invoice received. An invoice settled to KZT: the "
        "store's KZT buys the bitcoin back first at the bank's ask rate (422 if short).",
        parameters=[STORE_ID, INVOICE_ID, IDEMPOTENCY_HEADER],
        request=RefundIn,
        responses={200: RefundOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample("In-bank, in full", value={"method": "InBank"}, request_only=True),
            OpenApiExample(
                "On-chain, part",
                request_only=True,
                value={
                    "method": "OnChain",
                    "amount": "0.00050000",
                    "address": "bcrt1qexampleaddress0000000000000000000000",
                },
            ),
            OpenApiExample(
                "Refund",
                response_only=True,
                value={
                    "id": 7,
                    "invoiceId": "HMprBnL9BTXWuPvpoKBS6e",
                    "method": "InBank",
                    "amount": "0.00150000",
                    "currency": "BTC",
                    "address": "",
                    "transferId": 912,
                    "withdrawalId": None,
                    "createdTime": 1764000100,
                },
            ),
        ],
    )
    def post(self, request: Request, invoice_id: str, store_id: str | None = None) -> Response:
        merchant = self.merchant(store_id)

        def run() -> Response:
            data = self.body(RefundIn)
            amount = data.get("amount")
            refund = invoice_refund(
                merchant=merchant,
                invoice_id=invoice_id,
                method=data["method"],
                amount_sats=parse_amount(amount, "BTC") if amount else None,
                address=data.get("address", ""),
                actor=merchant.owner,
                client_address=client_ip(request),
            )
            return Response(refund_json(refund))

        return self.idempotent(merchant, run)


def _balance_line(account: Account) -> dict[str, str]:
    return {
        "currency": account.currency,
        "accountNumber": account.number,
        "posted": format_amount(account.posted_minor, account.currency),
        "held": format_amount(account.held_minor, account.currency),
        "available": format_amount(account.posted_minor - account.held_minor, account.currency),
    }


class BalanceApi(MerchantApiView):
    """The store's balances."""

    required_scopes = {"GET": SCOPE_VIEW_STORE}

    @extend_schema(
        operation_id="Alatau_GetBalance",
        tags=["Store"],
        summary="The store's balances",
        parameters=[STORE_ID],
        responses={200: BalanceOut, **ERRORS},
        examples=[
            OpenApiExample(
                "Balance",
                response_only=True,
                value={
                    "storeId": "9CiNzKoANXxmk5ayZngSXrHTiVvvgCrwrpFQd4m2K776",
                    "balances": [
                        {
                            "currency": "BTC",
                            "accountNumber": "KZ12970000000000001",
                            "posted": "0.01500000",
                            "held": "0.00000000",
                            "available": "0.01500000",
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request: Request, store_id: str) -> Response:
        merchant = self.merchant(store_id)
        accounts = Account.objects.filter(
            pk__in=[a for a in (merchant.btc_account_id, merchant.kzt_account_id) if a]
        ).order_by("currency")
        return Response(
            {"storeId": merchant.store_id, "balances": [_balance_line(a) for a in accounts]}
        )


class TransactionsApi(MerchantApiView):
    """The store's ledger lines."""

    required_scopes = {"GET": SCOPE_VIEW_STORE}

    @extend_schema(
        operation_id="Alatau_GetTransactions",
        tags=["Store"],
        summary="The store's ledger transactions with a running balance",
        parameters=[
            STORE_ID,
            OpenApiParameter("currency", OpenApiTypes.STR, enum=["BTC", "KZT"]),
            OpenApiParameter("afterId", OpenApiTypes.INT, description="Page after this id."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="At most 500."),
        ],
        responses={200: TransactionPageOut, **ERRORS},
        examples=[
            OpenApiExample(
                "Page",
                response_only=True,
                value={
                    "currency": "BTC",
                    "opening": "0.00000000",
                    "closing": "0.00150000",
                    "hasMore": False,
                    "nextAfterId": None,
                    "transactions": [
                        {
                            "id": 912,
                            "createdTime": 1764000050,
                            "code": "payment",
                            "amount": "0.00150000",
                            "balance": "0.00150000",
                            "memo": "Invoice HMprBnL9BTXWuPvpoKBS6e",
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request: Request, store_id: str) -> Response:
        merchant = self.merchant(store_id)
        currency = (request.query_params.get("currency") or "BTC").upper()
        if currency not in ("BTC", "KZT"):
            raise ValidationFailed("Unknown currency", fields={"currency": ["BTC or KZT."]})
        statement = merchant_statement(
            merchant=merchant,
            currency=currency,
            after_id=int_param(request, "afterId", 0) or 0,
            limit=int_param(request, "limit", 100, low=1, high=500) or 100,
        )
        cur = statement.account.currency
        return Response(
            {
                "currency": cur,
                "opening": format_amount(statement.opening_minor, cur),
                "closing": format_amount(statement.closing_minor, cur),
                "hasMore": statement.has_more,
                "nextAfterId": statement.lines[-1].transfer.pk if statement.has_more else None,
                "transactions": [
                    {
                        "id": line.transfer.pk,
                        "createdTime": unix(line.transfer.created_at),
                        "code": line.transfer.code,
                        "amount": format_amount(line.amount_minor, cur),
                        "balance": format_amount(line.balance_minor, cur),
                        "memo": line.transfer.memo,
                    }
                    for line in statement.lines
                ],
            }
        )


class ConversionsApi(MerchantApiView):
    """Sell the store's BTC for KZT."""

    moves_money = True

    required_scopes = {"POST": SCOPE_PAYOUT}

    @extend_schema(
        operation_id="Alatau_ConvertToKzt",
        tags=["Payouts"],
        summary="Sell the store's BTC for KZT at the bank's bid rate",
        parameters=[STORE_ID, IDEMPOTENCY_HEADER],
        request=ConversionIn,
        responses={200: PayoutOut, **WRITE_ERRORS},
        examples=[
            OpenApiExample("Convert", value={"amount": "0.00500000"}, request_only=True),
            OpenApiExample(
                "Converted",
                response_only=True,
                value={
                    "id": 4,
                    "kind": "Conversion",
                    "amount": "0.00500000",
                    "destination": "",
                    "kztAmount": "223875.00",
                    "withdrawalId": None,
                    "status": "completed",
                    "createdTime": 1764000300,
                },
            ),
        ],
    )
    def post(self, request: Request, store_id: str) -> Response:
        merchant = self.merchant(store_id)

        def run() -> Response:
            data = self.body(ConversionIn)
            payout = payout_services.merchant_convert_to_kzt(
                merchant=merchant,
                amount_sats=parse_amount(data["amount"], "BTC"),
                actor=merchant.owner,
                client_address=client_ip(request),
            )
            return Response(payout_json(payout))

        return self.idempotent(merchant, run)
