from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = gettext_lazy("Merchants and the merchant API")
