"""Helpers shared by every app's admin pages: read-only lists and service-calling actions.

Staff change rows only through services, so the rules hold in the admin too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Model
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

from core.errors import ApplicationError
from core.http import client_address


class ReasonActionForm(helpers.ActionForm):
    """The changelist action bar with a reason field: decisions need one."""

    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.TextInput(
            attrs={"size": 50, "placeholder": "reason (required for decisions)"}
        ),
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows change only through services: no add, change or delete in the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def call_service(
    request: HttpRequest, service: Callable[..., Any], label: str, **kwargs: Any
) -> tuple[bool, Any]:
    """Call a service as the signed-in staff member; show its error as a message."""
    try:
        result = service(actor=request.user, client_address=client_address(request), **kwargs)
    except ApplicationError as exc:
        detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.fields.items())
        messages.error(request, f"{label}: {exc.message}" + (f" ({detail})" if detail else ""))
        return False, None
    return True, result


def reason_of(request: HttpRequest) -> str:
    return str(request.POST.get("reason", "")).strip()


def safe_next(request: HttpRequest) -> str | None:
    target = request.POST.get("_next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return None
