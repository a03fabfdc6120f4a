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
