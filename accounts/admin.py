"""Staff admin for users and the ledger: read-only except users.

Ledger rows change only through services, so the admin shows them and never
edits them.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Model
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from accounts.models import Account, Hold, Transfer, User, UserSession
from core.admin_tools import ReadOnlyAdmin
from core.db_reads import LaggingReadsAdmin
from core.money import format_amount


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "is_staff", "is_active", "email_verified_at", "date_joined"]
    list_filter = ["is_staff", "is_active", "groups"]
    search_fields = ["email"]
    readonly_fields = ["email_verified_at", "last_login", "date_joined"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            gettext_lazy("Status"),
            {"fields": ("is_active", "email_verified_at", "last_login", "date_joined")},
        ),
        (
            gettext_lazy("Staff"),
            {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")},
        ),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # customers own ledger rows; deactivate instead


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "currency", "owner", "status", "posted", "held"]
    list_filter = ["kind", "currency", "status"]
    search_fields = ["number", "owner__email"]
    list_select_related = ["owner"]

    @admin.display(description=gettext_lazy("posted"))
    def posted(self, obj: Account) -> str:
        return format_amount(obj.posted_minor, obj.currency, with_code=True)

    @admin.display(description=gettext_lazy("held"))
    def held(self, obj: Account) -> str:
        return format_amount(obj.held_minor, obj.currency, with_code=True)


@admin.register(Transfer)
class TransferAdmin(LaggingReadsAdmin, ReadOnlyAdmin):
    list_display = ["id", "created_at", "code", "amount", "debit_account", "credit_account", "memo"]
    list_filter = ["code", "currency"]
    search_fields = ["debit_account__number", "credit_account__number", "memo", "group_id"]
    list_select_related = ["debit_account", "credit_account"]
    date_hierarchy = "created_at"

    @admin.display(description=gettext_lazy("amount"))
    def amount(self, obj: Transfer) -> str:
        return format_amount(obj.amount_minor, obj.currency, with_code=True)


@admin.register(Hold)
class HoldAdmin(LaggingReadsAdmin, ReadOnlyAdmin):
    list_display = ["id", "created_at", "account", "code", "amount_minor", "status", "expires_at"]
    list_filter = ["status", "code"]
    search_fields = ["account__number"]


@admin.register(UserSession)
class UserSessionAdmin(ReadOnlyAdmin):
    list_display = ["user", "ip", "user_agent", "created_at", "last_seen_at"]
    search_fields = ["user__email", "ip"]
