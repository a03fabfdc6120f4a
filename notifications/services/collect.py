"""Read what happened below (audit events, deposits seen, new sessions) and make notifications.

The audit log already records every money movement and staff action of every layer
(the ledger's SQL path and the Python path alike), so it is the one feed the
notifications follow; deposits seen and logins write no audit event and are read from
their own tables. Each feed has a cursor; a notification is unique per (kind,
source), so running twice, or two workers at once, tells nobody twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Account, AccountKind, Identity, Transfer, TransferCode, UserSession
from audit.models import AuditEvent
from custody.models import Deposit, Withdrawal
from notifications.models import CollectorCursor, KnownDevice, Notification, NotificationKind

BATCH_MAX = 500
RECEIVED_CODES = (TransferCode.INTERNAL, TransferCode.PAYMENT, TransferCode.REFUND)


def _notify(user_id: int | None, kind: str, source: str, data: dict[str, Any]) -> list[int]:
    """Create one notification unless it exists; return its id in a list (or nothing)."""
    if user_id is None:
        return []
    try:
        with transaction.atomic():
            note = Notification.objects.create(user_id=user_id, kind=kind, source=source, data=data)
    except IntegrityError:
        return []  # collected before (another worker, or a retried run)
    return [note.pk]


def _customer_owner(account: Account | None) -> int | None:
    if account is None or account.kind != AccountKind.CUSTOMER:
        return None
    return account.owner_id


def _masked(full_name: str, email: str) -> str:
    parts = full_name.split()
    if len(parts) >= 2:
        return f"{parts[0]} {parts[-1][0]}."
    local, _sep, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _on_transfer(event: AuditEvent) -> list[int]:
    transfer = Transfer.objects.filter(pk=int(event.object_id or 0)).first()
    if transfer is None:
        return []
    credit = Account.objects.select_related("owner").filter(pk=transfer.credit_account_id).first()
    owner = _customer_owner(credit)
    money = {"amount_minor": transfer.amount_minor, "currency": transfer.currency}
    if transfer.code == TransferCode.DEPOSIT:
        return _notify(owner, NotificationKind.DEPOSIT_CREDITED, f"transfer:{transfer.pk}", money)
    if transfer.code in RECEIVED_CODES:
        debit = Account.objects.select_related("owner").get(pk=transfer.debit_account_id)
        sender = "Alatau Bank"
        if debit.owner is not None:
            identity = Identity.objects.filter(user_id=debit.owner.pk).first()
            sender = _masked(identity.full_name if identity else "", debit.owner.email)
        data = {**money, "sender": sender}
        return _notify(owner, NotificationKind.TRANSFER_RECEIVED, f"transfer:{transfer.pk}", data)
    return []


def _on_batch(kind: str) -> Callable[[AuditEvent], list[int]]:
    def handle(event: AuditEvent) -> list[int]:
        made: list[int] = []
        for w in Withdrawal.objects.filter(batch_id=int(event.object_id or 0)):
            data = {"amount_minor": w.amount_sats, "currency": "BTC", "address": w.address}
            made += _notify(w.requested_by_id, kind, f"withdrawal:{w.pk}", data)
        return made

    return handle


def _on_twofactor(change: str) -> Callable[[AuditEvent], list[int]]:
    def handle(event: AuditEvent) -> list[int]:
        source = f"audit:{event.seq}"
        return _notify(
            event.actor_id, NotificationKind.TWOFACTOR_CHANGED, source, {"change": change}
        )

    return handle


def _on_address(event: AuditEvent) -> list[int]:
    data = {"address": str(event.data.get("address", ""))}
    return _notify(
        event.actor_id, NotificationKind.WITHDRAWAL_ADDRESS_ADDED, f"audit:{event.seq}", data
    )


def _on_identity(decision: str) -> Callable[[AuditEvent], list[int]]:
    def handle(event: AuditEvent) -> list[int]:
        identity = Identity.objects.filter(pk=int(event.object_id or 0)).first()
        if identity is None:
            return []
        data = {"decision": decision, "tier": identity.tier}
        return _notify(identity.user_id, NotificationKind.KYC_DECIDED, f"audit:{event.seq}", data)

    return handle


def _on_frozen(event: AuditEvent) -> list[int]:
    account = Account.objects.filter(pk=int(event.object_id or 0)).first()
    data = {"account": account.number if account else ""}
    source = f"audit:{event.seq}"
    return _notify(_customer_owner(account), NotificationKind.ACCOUNT_FROZEN, source, data)


AUDIT_HANDLERS: dict[str, Callable[[AuditEvent], list[int]]] = {
    "transfer.create": _on_transfer,
    "withdrawal_batch.broadcast": _on_batch(NotificationKind.WITHDRAWAL_SENT),
    "withdrawal_batch.confirm": _on_batch(NotificationKind.WITHDRAWAL_CONFIRMED),
    "2fa.enable": _on_twofactor("enable"),
    "2fa.disable": _on_twofactor("disable"),
    "2fa.backup_codes": _on_twofactor("backup_codes"),
    "withdrawal_address.add": _on_address,
    "identity.approve": _on_identity("approve"),
    "identity.reject": _on_identity("reject"),
    "account.frozen": _on_frozen,
}


def _cursor(feed: str) -> CollectorCursor:
    CollectorCursor.objects.get_or_create(feed=feed)
    return CollectorCursor.objects.select_for_update().get(feed=feed)


def _collect_audit() -> list[int]:
    with transaction.atomic():
        cursor = _cursor("audit")
        events = list(
            AuditEvent.objects.filter(seq__gt=cursor.position, action__in=list(AUDIT_HANDLERS))
            .order_by("seq")[:BATCH_MAX]
        )  # fmt: skip
        made = [pk for e in events for pk in AUDIT_HANDLERS[e.action](e)]
        if events:
            cursor.position = events[-1].seq
            cursor.save(update_fields=["position"])
    return made


def _collect_deposits() -> list[int]:
    with transaction.atomic():
        cursor = _cursor("deposits")
        deposits = list(
            Deposit.objects.filter(pk__gt=cursor.position, deposit_address__isnull=False)
            .select_related("deposit_address__account").order_by("pk")[:BATCH_MAX]
        )  # fmt: skip
        made: list[int] = []
        for d in deposits:
            owner = _customer_owner(d.deposit_address.account if d.deposit_address else None)
            data = {"amount_minor": d.amount_sats, "currency": "BTC"}
            made += _notify(owner, NotificationKind.DEPOSIT_SEEN, f"deposit:{d.pk}", data)
        if deposits:
            cursor.position = deposits[-1].pk
            cursor.save(update_fields=["position"])
    return made


def _collect_sessions() -> list[int]:
    with transaction.atomic():
        cursor = _cursor("sessions")
        sessions = list(
            UserSession.objects.filter(pk__gt=cursor.position, user__is_staff=False)
            .order_by("pk")[:BATCH_MAX]
        )  # fmt: skip
        made: list[int] = []
        for s in sessions:
            digest = hashlib.sha256(s.user_agent.encode()).hexdigest()
            known = KnownDevice.objects.filter(user_id=s.user_id)
            if known.filter(user_agent_sha256=digest).exists():
                continue
            first_device = not known.exists()
            KnownDevice.objects.create(user_id=s.user_id, user_agent_sha256=digest)
            if not first_device:  # the device one signs up on is not news
                data = {"device": s.user_agent[:80] or "?", "ip": s.ip or "?"}
                made += _notify(
                    s.user_id, NotificationKind.NEW_DEVICE_LOGIN, f"session:{s.pk}", data
                )
        if sessions:
            cursor.position = sessions[-1].pk
            cursor.save(update_fields=["position"])
    return made


def notifications_collect() -> list[int]:
    """Collect new notifications from every feed (at most a batch each); return their ids.

    Each feed commits on its own; the caller (the Celery task) then enqueues the
    emails, so no email is sent for a notification that was rolled back.
    """
    return _collect_audit() + _collect_deposits() + _collect_sessions()
