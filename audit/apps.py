from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The hash-chained audit log, below every other app (the ledger writes to it)."""

    name = "audit"
    verbose_name = "Audit log"
