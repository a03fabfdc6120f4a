from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class TreasuryConfig(AppConfig):
    """Cold storage, hot/cold rebalancing, reconciliation and proof of reserves."""

    name = "treasury"
    label = "treasury"
    verbose_name = gettext_lazy("Treasury (cold wallet, rebalancing, reconciliation, reserves)")

    def ready(self) -> None:
        # Four eyes for cold-to-hot moves run on compliance's approval engine.
        from treasury.services.moves import register_approval_action

        register_approval_action()
        # Pinning cold descriptors is a four-eyes action too (registered on import).
        # Custody's builders of hot-wallet spends must see unsent sweeps too.
        from custody.hotwallet.kinds import hot_spend_register
        from treasury.services.sweeps import SWEEP_SPEND

        hot_spend_register(SWEEP_SPEND)
        # The staff admin's index shows the last reconciliation (compliance draws it).
        from compliance.registry import admin_counter_register
        from treasury.selectors import reconciliation_last_text
        from treasury.services import descriptors  # noqa: F401

        admin_counter_register("reconciliation", reconciliation_last_text)
