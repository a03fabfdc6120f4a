from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class BankingConfig(AppConfig):
    """Web banking: the customer door (views, forms, customer-facing services)."""

    name = "banking"
    verbose_name = gettext_lazy("Web banking")
