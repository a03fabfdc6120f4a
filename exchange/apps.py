from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class ExchangeConfig(AppConfig):
    """The bank's BTC/KZT rates, KZT valuations, and quotes executed on the ledger."""

    name = "exchange"
    verbose_name = gettext_lazy("Exchange (BTC/KZT)")
