from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    """The bank's BTC/KZT rates, KZT valuations, and quotes executed on the ledger."""

    name = "exchange"
    verbose_name = "Exchange (BTC/KZT)"
