"""Staff admin for quotes (rates are a control: their admin is compliance's)."""

from __future__ import annotations

from django.contrib import admin

from core.admin_tools import ReadOnlyAdmin
from exchange.models import Quote


@admin.register(Quote)
class QuoteAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "user", "direction", "amount_in_minor", "amount_out_minor",
                    "rate_tiyn_per_btc", "expires_at", "used_at"]  # fmt: skip
    list_filter = ["direction"]
    search_fields = ["user__email"]
