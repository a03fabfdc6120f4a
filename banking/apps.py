from django.apps import AppConfig


class BankingConfig(AppConfig):
    """Web banking: the customer door (views, forms, customer-facing services)."""

    name = "banking"
    verbose_name = "Web banking"
