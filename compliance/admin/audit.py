"""The audit log, readable and filterable; nobody adds, changes or deletes events."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy

from audit.models import AuditEvent
from core.admin_tools import ReadOnlyAdmin
from core.db_reads import LaggingReadsAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(LaggingReadsAdmin, ReadOnlyAdmin):
    list_display = [
        "seq",
        "created_at",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "client_address",
    ]
    list_filter = ["action", "object_type", "created_at"]
    search_fields = ["object_id", "actor_label", "action"]
    date_hierarchy = "created_at"
    exclude = ["prev_hash", "hash", "payload"]
    readonly_fields = [
        "seq",
        "created_at",
        "actor",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "client_address",
        "data",
        "hash_hex",
        "prev_hash_hex",
    ]
    actions = None
    show_full_result_count = False

    @admin.display(description=gettext_lazy("hash"))
    def hash_hex(self, event: AuditEvent) -> str:
        return bytes(event.hash).hex()

    @admin.display(description=gettext_lazy("previous hash"))
    def prev_hash_hex(self, event: AuditEvent) -> str:
        return bytes(event.prev_hash).hex()
