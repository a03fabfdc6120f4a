"""Holds: reserve funds now, post (in full or part) or void later."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone

from accounts.actor import Actor
from accounts.models import Account, Hold, HoldStatus, TransferCode
from accounts.services.posting import (
    check_debit,
    check_key,
    check_pair,
    check_replay,
    lock_accounts,
    post_locked,
    request_hash,
    source_label,
    source_ref,
)
from audit.chain import audit_record
from core.errors import InvalidState, NotFound, ValidationFailed
from core.money import check_minor

HOLD_IDEMPOTENCY_CONSTRAINT = "hold_idempotency_key_per_initiator"


@dataclass(frozen=True)
class Leg:
    """One transfer made when a hold is posted: where the money goes, and why."""

    credit_account_id: int
    amount_minor: int
    code: str
    memo: str = ""


def _find_by_key(initiator: Any | None, key: str) -> Hold | None:
    # No ORDER BY (unlike .first()): the key is unique and the planner should use its index.
    found = list(
        Hold.objects.filter(
            initiator_id=getattr(initiator, "pk", None), idempotency_key=key
        ).order_by()[:1]
    )
    return found[0] if found else None


def hold_create(
    *,
    account_id: int,
    amount_minor: int,
    code: str,
    initiator: Any | None = None,
    idempotency_key: str | None = None,
    memo: str = "",
    source: models.Model | None = None,
    expires_at: datetime | None = None,
    allow_frozen: bool = False,
    client_address: str | None = None,
) -> Hold:
    """Reserve ``amount_minor`` on an account (raises ``held``), once per idempotency key."""
    check_key(idempotency_key)
    if code not in TransferCode.values:
        raise ValidationFailed("Unknown hold code", fields={"code": ["Unknown code."]})
    fingerprint = request_hash(
        {
            "account": account_id,
            "amount": amount_minor,
            "code": code,
            "source": source_label(source),
        }
    )
    if idempotency_key is not None and (found := _find_by_key(initiator, idempotency_key)):
        return check_replay(found, fingerprint)
    try:
        with transaction.atomic():
            account = lock_accounts([account_id])[account_id]
            if idempotency_key is not None and (found := _find_by_key(initiator, idempotency_key)):
                return check_replay(found, fingerprint)
            check_minor(amount_minor, account.currency)
            check_debit(account, amount_minor, allow_frozen=allow_frozen)
            source_type, source_id = source_ref(source)
            hold = Hold.objects.create(
                account=account,
                amount_minor=amount_minor,
                code=code,
                memo=memo[:255],
                source_type=source_type,
                source_id=source_id,
                initiator=initiator,
                idempotency_key=idempotency_key,
                request_hash=fingerprint,
                expires_at=expires_at,
            )
            Account.objects.filter(pk=account.pk).update(
                held_minor=F("held_minor") + amount_minor, version=F("version") + 1
            )
            audit_record(
                actor=initiator,
                action="hold.create",
                obj=hold,
                data={"account": account.pk, "amount_minor": amount_minor, "code": code},
                client_address=client_address,
            )
            return hold
    except IntegrityError as exc:
        if idempotency_key is None or HOLD_IDEMPOTENCY_CONSTRAINT not in str(exc):
            raise
        found = _find_by_key(initiator, idempotency_key)
        if found is None:
            raise
        return check_replay(found, fingerprint)


def _lock_hold(hold_id: int) -> Hold:
    hold = Hold.objects.select_for_update().filter(pk=hold_id).first()
    if hold is None:
        raise NotFound("Hold not found")
    return hold


def _release(hold: Hold) -> None:
    Account.objects.filter(pk=hold.account_id).update(
        held_minor=F("held_minor") - hold.amount_minor, version=F("version") + 1
    )


def hold_post(
    *,
    hold_id: int,
    legs: Sequence[Leg],
    actor: Actor = None,
    client_address: str | None = None,
) -> Hold:
    """Post a hold as one or more transfers out of its account; release the rest.

    The legs share one group id. Posting an already posted hold returns it
    unchanged (the first outcome); posting a voided or expired hold is an error.
    """
    if not legs:
        raise ValidationFailed("Nothing to post", fields={"legs": ["At least one leg."]})
    with transaction.atomic():
        hold = _lock_hold(hold_id)
        if hold.status == HoldStatus.POSTED:
            return hold
        if hold.status != HoldStatus.OPEN:
            raise InvalidState(f"Hold {hold.pk} is {hold.status}, it cannot be posted")
        total = sum(leg.amount_minor for leg in legs)
        if any(leg.amount_minor <= 0 for leg in legs) or total > hold.amount_minor:
            raise ValidationFailed(
                "Leg amounts must be positive and within the hold",
                fields={"amount": [f"At most {hold.amount_minor} in total."]},
            )
        accounts = lock_accounts([hold.account_id, *(leg.credit_account_id for leg in legs)])
        debit = accounts[hold.account_id]
        _release(hold)
        debit.held_minor -= hold.amount_minor
        group_id = uuid.uuid4()
        for leg in legs:
            credit = accounts[leg.credit_account_id]
            check_pair(debit, credit, leg.amount_minor)
            # The hold already reserved these funds, so a frozen account may still pay it.
            check_debit(debit, leg.amount_minor, allow_frozen=True)
            post_locked(
                debit=debit,
                credit=credit,
                amount_minor=leg.amount_minor,
                code=leg.code,
                group_id=group_id,
                initiator=actor,
                memo=leg.memo or hold.memo,
                source=hold,
            )
        hold.status, hold.posted_minor = HoldStatus.POSTED, total
        hold.group_id, hold.closed_at = group_id, timezone.now()
        hold.save(update_fields=["status", "posted_minor", "group_id", "closed_at"])
        audit_record(
            actor=actor,
            action="hold.post",
            obj=hold,
            data={
                "posted_minor": total,
                "released_minor": hold.amount_minor - total,
                "group_id": str(group_id),
            },
            client_address=client_address,
        )
        return hold


def hold_void(
    *,
    hold_id: int,
    actor: Actor = None,
    reason: str = "",
    expired: bool = False,
    client_address: str | None = None,
) -> Hold:
    """Release a hold without moving money. Voiding twice returns the first outcome."""
    with transaction.atomic():
        hold = _lock_hold(hold_id)
        if hold.status in (HoldStatus.VOIDED, HoldStatus.EXPIRED):
            return hold
        if hold.status != HoldStatus.OPEN:
            raise InvalidState(f"Hold {hold.pk} is {hold.status}, it cannot be voided")
        lock_accounts([hold.account_id])
        _release(hold)
        status = HoldStatus.EXPIRED if expired else HoldStatus.VOIDED
        hold.status, hold.closed_at = status, timezone.now()
        hold.save(update_fields=["status", "closed_at"])
        audit_record(
            actor=actor,
            action=f"hold.{status}",
            obj=hold,
            data={"amount_minor": hold.amount_minor, "reason": reason},
            client_address=client_address,
        )
        return hold


def hold_expire_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Expire open holds whose ``expires_at`` has passed; return how many. Bounded per run."""
    now = now or timezone.now()
    due = list(
        Hold.objects.filter(status=HoldStatus.OPEN, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for hold_id in due:
        try:
            hold_void(hold_id=hold_id, reason="expired", expired=True)
        except InvalidState:
            continue  # posted meanwhile: the post wins, nothing to release
        expired += 1
    return expired
