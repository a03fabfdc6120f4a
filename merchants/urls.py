"""Merchant web pages: the hosted checkout and API key management."""

from django.urls import URLPattern, URLResolver, path

from merchants import ids, views  # noqa: F401 - ids registers the <pid:> converter

app_name = "merchants"
urlpatterns: list[URLPattern | URLResolver] = [
    path("i/<pid:invoice_id>", views.checkout, name="checkout"),
    path("i/<pid:invoice_id>/pay", views.checkout_pay, name="checkout_pay"),
    path("i/<pid:invoice_id>/status", views.checkout_status, name="checkout_status"),
    path("merchant/keys/", views.keys, name="keys"),
    path("merchant/keys/<int:key_id>/revoke", views.key_revoke, name="key_revoke"),
]
