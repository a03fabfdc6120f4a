from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = gettext_lazy("Merchants and the merchant API")

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_delete, post_save

        from custody.services.withdrawal_observers import withdrawal_observer_register
        from merchants.models import ApiKey, Merchant
        from merchants.services.key_cache import generation_bump
        from merchants.services.payout_observer import payouts_observe_withdrawals

        # PayoutUpdated right after the bank's withdrawal behind a payout moves on
        # (``merchants.tasks.payouts_observe`` catches up on anything missed).
        withdrawal_observer_register("merchants.payouts", payouts_observe_withdrawals)

        # Any change to a key, a merchant or a user drops every process's cached keys.
        for model in (ApiKey, Merchant, settings.AUTH_USER_MODEL):
            post_save.connect(generation_bump, sender=model, dispatch_uid=f"apikey-gen-{model}")
            post_delete.connect(generation_bump, sender=model, dispatch_uid=f"apikey-del-{model}")
