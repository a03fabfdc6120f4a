from django.apps import AppConfig


class TreasuryConfig(AppConfig):
    """Cold storage, hot/cold rebalancing, reconciliation and proof of reserves."""

    name = "treasury"
    label = "treasury"
    verbose_name = "Treasury (cold wallet, rebalancing, reconciliation, reserves)"

    def ready(self) -> None:
        # Four eyes for cold-to-hot moves run on compliance's approval engine.
        from treasury.services.moves import register_approval_action

        register_approval_action()
        # Pinning cold descriptors is a four-eyes action too (registered on import).
        # The staff admin's index shows the last reconciliation (compliance draws it).
        from compliance.registry import admin_counter_register
        from treasury.selectors import reconciliation_last_text
        from treasury.services import descriptors  # noqa: F401

        admin_counter_register("reconciliation", reconciliation_last_text)
