"""Merchant web pages: the hosted checkout and API key management."""

from django.urls import URLPattern, URLResolver, path

from merchants import ids, views, views_authorize, views_pull  # noqa: F401 - ids: <pid:>

app_name = "merchants"
urlpatterns: list[URLPattern | URLResolver] = [
    path("i/<pid:invoice_id>", views.checkout, name="checkout"),
    path("i/<pid:invoice_id>/pay", views.checkout_pay, name="checkout_pay"),
    path("i/<pid:invoice_id>/status", views.checkout_status, name="checkout_status"),
    path("merchant/keys/", views.keys, name="keys"),
    # The payee's claim page of a pull payment, as BTCPay's (with and without the slash).
    path("pull-payments/<pid:pull_payment_id>", views_pull.pull_payment_page, name="pull-payment"),
    path("pull-payments/<pid:pull_payment_id>/", views_pull.pull_payment_page),
    # BTCPay's key request flow for shop plugins (with and without the trailing slash).
    path("api-keys/authorize", views_authorize.api_key_authorize, name="api_key_authorize"),
    path("api-keys/authorize/", views_authorize.api_key_authorize),
    path("merchant/keys/<int:key_id>/revoke", views.key_revoke, name="key_revoke"),
]
