from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class CustodyConfig(AppConfig):
    name = "custody"
    verbose_name = gettext_lazy("Custody (bitcoin node, deposits, withdrawals)")

    def ready(self) -> None:
        # Compliance's case screen and four-eyes engine decide withdrawals through custody.
        from custody.services.review import review_register

        review_register()
        # A frozen account's approved withdrawals go back to review at once.
        from custody.services.freeze import freeze_listen

        freeze_listen()
        # CPFP children are hot-wallet spends with their own four-eyes action.
        from custody.services.fee_bumps import fee_bumps_register

        fee_bumps_register()
        # Every builder of a hot-wallet spend checks the unsent withdrawal batches.
        from custody.hotwallet.kinds import hot_spend_register
        from custody.services.batches import BATCH_SPEND

        hot_spend_register(BATCH_SPEND)
