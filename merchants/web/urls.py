"""Routes of the merchant pages (``/merchant/...``) and the public payment-request pages."""

from django.urls import URLPattern, URLResolver, include, path

from merchants.web import dashboard, invoices, payouts, pos, requests, webhooks

merchant_patterns: list[URLPattern | URLResolver] = [
    path("", dashboard.dashboard, name="dashboard"),
    path("settings/kzt", dashboard.settlement_setting, name="settlement_setting"),
    path("invoices/", invoices.invoice_list, name="invoices"),
    path("invoices/export.csv", invoices.invoice_export, name="invoices_csv"),
    path("invoices/<str:invoice_id>/", invoices.invoice_view, name="invoice"),
    path("pos/", pos.till, name="pos"),
    path("pos/<str:invoice_id>/", pos.charge, name="pos_charge"),
    path("pos/<str:invoice_id>/status", pos.charge_status, name="pos_status"),
    path("pos/<str:invoice_id>/receipt", pos.receipt, name="pos_receipt"),
    path("requests/", requests.request_list, name="requests"),
    path("requests/<str:request_id>/", requests.request_view, name="request"),
    path("requests/<str:request_id>/archive", requests.request_archive, name="request_archive"),
    path("payouts/", payouts.payouts, name="payouts"),
    path(
        "payouts/addresses/<int:address_id>/remove", payouts.address_remove, name="address_remove"
    ),
    path("webhooks/", webhooks.webhooks, name="webhooks"),
    path(
        "webhooks/<str:webhook_id>/deliveries/<str:delivery_id>/redeliver",
        webhooks.redeliver,
        name="redeliver",
    ),
]

public_patterns: list[URLPattern | URLResolver] = [
    path("<str:request_id>", requests.public_request, name="request"),
    path("<str:request_id>/pay", requests.public_request_pay, name="request_pay"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("merchant/", include((merchant_patterns, "merchant"))),
    path("r/", include((public_patterns, "merchant_public"))),
]
