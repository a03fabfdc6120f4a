from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles_and_defaults(sender: Any, **kwargs: Any) -> None:
    """Keep role permissions and default rows in step after every migrate or flush."""
    from compliance.defaults import defaults_setup
    from compliance.roles import roles_sync

    roles_sync()
    defaults_setup()


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance and audit"

    def ready(self) -> None:
        # Runs after every app's post_migrate (permissions exist by then): connect to
        # the last app's signal by using no sender filter and an idempotent handler.
        post_migrate.connect(_sync_roles_and_defaults, dispatch_uid="compliance-roles-sync")
