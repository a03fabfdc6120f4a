"""Helpers shared by every app's admin pages: read-only lists and service-calling actions.

Staff change rows only through services, so the rules hold in the admin too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from django.http import HttpRequest
from django.utils.functional import lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy

from core.errors import ApplicationError
from core.http import client_address
from core.money import format_amount


class ReasonActionForm(helpers.ActionForm):
    """The changelist action bar with a reason field: decisions need one."""

    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.TextInput(
            attrs={"size": 50, "placeholder": gettext_lazy("reason (required for decisions)")}
        ),
    )


# Amount columns by the unit their name ends with; "_minor" takes the row's currency.
AMOUNT_UNITS = {"_sats": "BTC", "_tiyn": "KZT", "_minor": ""}
UNIT_WORDS = ("sats", "tiyn", "minor")


def amount_unit(name: str) -> str | None:
    """Return the currency of an amount field ("" = the row's), or None if not an amount."""
    for suffix, currency in AMOUNT_UNITS.items():
        if name.endswith(suffix):
            return currency
    return None


def amount_display(name: str, label: Any) -> Callable[[Any], str]:
    """Return an admin column that shows ``name`` as "0.49950000 BTC", not 49950000."""
    currency = amount_unit(name) or ""

    @admin.display(description=label)
    def show(obj: Any) -> str:
        value = getattr(obj, name, None)
        if value is None:
            return "—"
        unit = currency or str(getattr(obj, "currency", "") or "BTC")
        return format_amount(int(value), unit, with_code=True).replace("-", "\u2212")

    return show


def _label(model: type[Model], name: str) -> str:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:  # not a model field: use the name itself
        words = name.replace("_", " ").split()
    else:
        words = str(getattr(field, "verbose_name", name)).split()
    kept = [w for w in words if w.lower() not in UNIT_WORDS] or words
    return capfirst(" ".join(kept))


# Worked out when shown: the label is in the language of the request that reads it.
_label_lazy = lazy(_label, str)


class AmountsAdminMixin(admin.ModelAdmin):
    """Show every ``*_sats``/``*_tiyn``/``*_minor`` field with its unit, in lists and pages."""

    def _amount_name(self, name: Any) -> Any:
        if not isinstance(name, str) or amount_unit(name) is None or name.startswith("amount_of_"):
            return name
        shown = f"amount_of_{name}"
        if not hasattr(self, shown):
            setattr(self, shown, amount_display(name, _label_lazy(self.model, name)))
        return shown

    def get_list_display(self, request: HttpRequest) -> Any:
        return [self._amount_name(n) for n in super().get_list_display(request)]

    def get_fieldsets(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return [
            (title, {**opts, "fields": [self._amount_name(f) for f in opts["fields"]]})
            for title, opts in super().get_fieldsets(request, obj)
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return [self._amount_name(f) for f in super().get_readonly_fields(request, obj)]


class ReadOnlyAdmin(AmountsAdminMixin, admin.ModelAdmin):
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
