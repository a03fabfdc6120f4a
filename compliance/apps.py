from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy


def _sync_roles_and_defaults(sender: Any, **kwargs: Any) -> None:
    """Keep role permissions and default rows in step after every migrate or flush.

    ``post_migrate`` is sent once per app, in INSTALLED_APPS order, and each app's
    permissions are created on its own signal: act on the last one's, when all exist.
    """
    from django.apps import apps

    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if with_models and sender is not with_models[-1]:
        return
    from compliance.defaults import defaults_setup
    from compliance.roles import roles_sync

    roles_sync()
    defaults_setup()


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = gettext_lazy("Compliance and audit")

    def ready(self) -> None:
        from core.field_labels import field_labels_translate

        # The admin shows every field: its default labels in the reader's language.
        field_labels_translate()
        post_migrate.connect(_sync_roles_and_defaults, dispatch_uid="compliance-roles-sync")
        # These modules register compliance's own four-eyes actions when imported.
        from compliance.services import (  # noqa: F401
            actions,
            corrections,
            kyc,
            limits,
            rates,
            rules_admin,
            sanctions,
            staff,
        )
