from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = gettext_lazy("Customers and ledger")

    def ready(self) -> None:
        # Sign-ins and changes to users' rights go to the audit chain, from every door.
        from accounts import signals

        signals.connect()
