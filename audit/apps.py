from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AuditConfig(AppConfig):
    """The hash-chained audit log, below every other app (the ledger writes to it)."""

    name = "audit"
    verbose_name = gettext_lazy("Audit log")
