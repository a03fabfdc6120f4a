"""What each notification says, in the customer's language. Figures only, never secrets."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from core.money import format_amount
from notifications.models import Notification, NotificationKind

# (title, body) per kind; bodies take the notification's data as %(name)s.
TEXTS = {
    NotificationKind.DEPOSIT_SEEN: (
        _("Deposit on its way"),
        _(
            "We see %(amount)s coming to your deposit address. It is credited after enough "
            "confirmations on the bitcoin network."
        ),
    ),
    NotificationKind.DEPOSIT_CREDITED: (
        _("Deposit credited"),
        _("%(amount)s was credited to your account."),
    ),
    NotificationKind.WITHDRAWAL_SENT: (
        _("Withdrawal sent"),
        _("Your withdrawal of %(amount)s to %(address)s was sent to the bitcoin network."),
    ),
    NotificationKind.WITHDRAWAL_CONFIRMED: (
        _("Withdrawal confirmed"),
        _("Your withdrawal of %(amount)s to %(address)s is confirmed on the bitcoin network."),
    ),
    NotificationKind.TRANSFER_RECEIVED: (
        _("Money received"),
        _("You received %(amount)s from %(sender)s."),
    ),
    NotificationKind.NEW_DEVICE_LOGIN: (
        _("Login from a new device"),
        _(
            "Someone logged in to your account from a new device (%(device)s, address "
            "%(ip)s). If it was not you, change your password and end that session under "
            "Security."
        ),
    ),
    NotificationKind.TWOFACTOR_CHANGED: (
        _("Two-factor authentication changed"),
        _("%(change)s If you did not do this, change your password and contact us."),
    ),
    NotificationKind.WITHDRAWAL_ADDRESS_ADDED: (
        _("New withdrawal address"),
        _(
            "The address %(address)s was added to your withdrawal addresses. If you did not "
            "add it, remove it under Withdraw and change your password."
        ),
    ),
    NotificationKind.KYC_DECIDED: (
        _("Identity decision"),
        _("%(decision)s"),
    ),
    NotificationKind.ACCOUNT_FROZEN: (
        _("Account frozen"),
        _(
            "Your account %(account)s is frozen: you cannot send, exchange or withdraw money "
            "until our compliance team has finished a check. Contact support to learn what "
            "we need."
        ),
    ),
}
TWOFACTOR_CHANGES = {
    "enable": _("Two-factor authentication was turned on."),
    "disable": _("Two-factor authentication was turned off."),
    "backup_codes": _("New backup codes were made; the old ones no longer work."),
}
KYC_DECISIONS = {
    "approve": _("Your identity is verified. Your limits are now those of tier %(tier)s."),
    "reject": _("We could not verify your identity. Open Identity to see why and try again."),
}


def _params(notification: Notification) -> dict[str, Any]:
    data = dict(notification.data)
    if "amount_minor" in data:
        data["amount"] = format_amount(int(data["amount_minor"]), data["currency"], with_code=True)
    if notification.kind == NotificationKind.TWOFACTOR_CHANGED:
        data["change"] = str(TWOFACTOR_CHANGES.get(data.get("change", ""), ""))
    if notification.kind == NotificationKind.KYC_DECIDED:
        data["decision"] = str(KYC_DECISIONS.get(data.get("decision", ""), "")) % {
            "tier": data.get("tier", "")
        }
    return data


def notification_text(notification: Notification, language: str | None = None) -> tuple[str, str]:
    """Return (title, body) of a notification, in ``language`` or the active one."""
    title, body = TEXTS[NotificationKind(notification.kind)]
    if language is None:
        return str(title), str(body) % _params(notification)
    with override(language):
        return str(title), str(body) % _params(notification)
