"""Transfers between ledger accounts: create (idempotent) and reverse."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from django.db import IntegrityError, connection, models, transaction
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.utils import timezone
from psycopg.types.numeric import Int8

from accounts.actor import Actor
from accounts.errors import (
    AccountClosed,
    AccountErrorCode,
    AccountFrozen,
    AccountNotFound,
    AlreadyReversed,
    CurrencyMismatch,
    InsufficientFunds,
    SameAccount,
)
from accounts.models import Transfer, TransferCode, TransferKey
from accounts.services.posting import (
    check_debit,
    check_key,
    check_replay,
    lock_accounts,
    post_locked,
    request_hash,
    source_label,
    source_ref,
)
from audit.chain import audit_record
from core.errors import InvariantViolation, NotFound, ValidationFailed
from core.money import CAP_MINOR

IDEMPOTENCY_CONSTRAINT = "transfer_idempotency_key_per_initiator"


def _find_by_key(initiator: Any | None, key: str) -> Transfer | None:
    initiator_id = getattr(initiator, "pk", None)
    # The key table holds the one unique index of keys across the monthly partitions.
    # No ORDER BY: the key is unique, and .first()'s ordering can mislead the planner.
    keyed = TransferKey.objects.filter(initiator_id=initiator_id, idempotency_key=key)
    found = list(Transfer.objects.filter(pk__in=keyed.values("id")).order_by()[:1])
    return found[0] if found else None


def _check_code(code: str) -> None:
    if code not in TransferCode.values:
        raise ValidationFailed(
            f"Unknown transfer code {code!r}", fields={"code": ["Unknown code."]}
        )


def _check_amount(amount_minor: int) -> None:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ValidationFailed(
            "Amount must be positive", fields={"amount": ["Must be more than 0."]}
        )


def _fingerprint(
    debit_account_id: int,
    credit_account_id: int,
    amount_minor: int,
    code: str,
    source: models.Model | None,
) -> str:
    """Hash what makes two requests with one idempotency key the same request."""
    return request_hash(
        {
            "debit": debit_account_id,
            "credit": credit_account_id,
            "amount": amount_minor,
            "code": code,
            "source": source_label(source),
        }
    )


def transfer_create(
    *,
    debit_account_id: int,
    credit_account_id: int,
    amount_minor: int,
    code: str,
    initiator: Any | None = None,
    idempotency_key: str | None = None,
    memo: str = "",
    source: models.Model | None = None,
    group_id: uuid.UUID | None = None,
    allow_frozen_debit: bool = False,
    kzt_value_tiyn: int | None = None,
    client_address: str | None = None,
) -> Transfer:
    """Move ``amount_minor`` from one account to another, once per idempotency key.

    Locks both accounts in id order, checks status, currency and available
    funds, writes the transfer, both balances and an audit event in one
    transaction (one SQL call: ``ledger_transfer``, migration 0005). The same
    key with the same request returns the first transfer; with a different
    request it raises ``IdempotencyConflict``.
    """
    _check_code(code)
    check_key(idempotency_key)
    _check_amount(amount_minor)
    source_type, source_id = source_ref(source)
    fingerprint = _fingerprint(debit_account_id, credit_account_id, amount_minor, code, source)
    call = _TransferCall(
        debit_account_id,
        credit_account_id,
        amount_minor,
        code,
        getattr(initiator, "pk", None),
        idempotency_key,
        fingerprint,
        memo[:255],
        group_id or uuid.uuid4(),
        source_type.pk if source_type else None,
        source_id,
        allow_frozen_debit,
        kzt_value_tiyn,
        client_address,
        str(initiator) if initiator is not None else "system",
        timezone.now(),
    )
    try:
        status, transfer_id, detail = _call_ledger_transfer(call)
    except IntegrityError as exc:
        # Same key, different accounts, committed concurrently: the unique index decides.
        if idempotency_key is None or IDEMPOTENCY_CONSTRAINT not in str(exc):
            raise
        existing = _find_by_key(initiator, idempotency_key)
        if existing is None:
            raise
        return check_replay(existing, fingerprint)
    if status == "replay":
        return check_replay(Transfer.objects.get(pk=transfer_id), fingerprint)
    if status != "ok":
        raise ledger_status_error(status, detail)
    return call.as_transfer(transfer_id, currency=detail)


class _TransferCall(NamedTuple):
    debit: int
    credit: int
    amount: int
    code: str
    initiator_id: int | None
    key: str | None
    request_hash: str
    memo: str
    group_id: uuid.UUID
    source_type_id: int | None
    source_id: str
    allow_frozen: bool
    kzt_value_tiyn: int | None
    client_address: str | None
    actor_label: str
    now: datetime

    def as_transfer(self, transfer_id: int, *, currency: str) -> Transfer:
        """Build the saved row from what was sent, sparing a read-back round trip."""
        transfer = Transfer(
            id=transfer_id,
            group_id=self.group_id,
            debit_account_id=self.debit,
            credit_account_id=self.credit,
            amount_minor=self.amount,
            currency=currency,
            code=self.code,
            source_type_id=self.source_type_id,
            source_id=self.source_id,
            initiator_id=self.initiator_id,
            idempotency_key=self.key,
            request_hash=self.request_hash,
            memo=self.memo,
            kzt_value_tiyn=self.kzt_value_tiyn,
            created_at=self.now,
        )
        transfer._state.adding = False
        transfer._state.db = "default"
        return transfer


# The per-currency caps the SQL functions check, from the one definition in core.money.
CAPS_JSON = json.dumps({str(currency): cap for currency, cap in CAP_MINOR.items()})


# Every parameter typed, so the call's text and its parameter types are the same every time:
# one server-side prepared statement per connection, parsed and planned once.
_LEDGER_TRANSFER_CALL = (
    "SELECT status, transfer_id, detail FROM ledger_transfer("
    "%s::int8, %s::int8, %s::int8, %s::text, %s::int8, %s::text, %s::text, %s::text, %s::uuid, "
    "%s::int4, %s::text, %s::bool, %s::int8, %s::inet, %s::text, %s::timestamptz, %s::jsonb)"
)


class _PreparedCursor(psycopg.Cursor[Any]):
    """Server-side binding, prepared on first use (Django's cursors bind client-side).

    Django's ``ClientCursor`` merges the parameters into the text, so every call is a new
    statement the server parses and plans, and the client quotes 17 values. This cursor
    sends the same text with typed binary parameters; ``prepare=True`` asks psycopg to
    prepare it (it does so only where ``prepare_threshold`` is set, see bank/settings.py:
    otherwise the call runs unprepared, with the same result).
    """

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("prepare", True)
        return super().execute(query, params, **kwargs)


def _ledger_cursor() -> Any:
    connection.ensure_connection()
    connection.validate_thread_sharing()
    # Django's own wrappers around the raw cursor: execute hooks, query log, error mapping.
    wrapper = CursorDebugWrapper if connection.queries_logged else CursorWrapper
    return wrapper(_PreparedCursor(connection.connection), connection)


def _typed_params(call: _TransferCall) -> list[Any]:
    # psycopg sends an int as int2, int4 or int8 by its value, and each combination of
    # types would be a statement of its own: the bigint columns always go as int8.
    return [
        Int8(call.debit), Int8(call.credit), Int8(call.amount), call.code,
        None if call.initiator_id is None else Int8(call.initiator_id), call.key,
        call.request_hash, call.memo, call.group_id, call.source_type_id, call.source_id,
        call.allow_frozen, None if call.kzt_value_tiyn is None else Int8(call.kzt_value_tiyn),
        call.client_address, call.actor_label, call.now, CAPS_JSON,
    ]  # fmt: skip


def _call_ledger_transfer(call: _TransferCall) -> tuple[str, int, str]:
    # Outside a caller's transaction the call runs in autocommit: one statement is
    # one transaction and one round trip, so the row locks are held for the
    # shortest time. Inside one it runs in a savepoint, so a unique-key race
    # (handled by the caller) does not abort the caller's transaction.
    scope = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with scope, _ledger_cursor() as cursor:
        cursor.execute(_LEDGER_TRANSFER_CALL, _typed_params(call))
        row = cursor.fetchone()
    if row is None or (row[0] in ("ok", "replay") and row[1] is None):
        raise InvariantViolation(f"ledger_transfer returned {row!r}")
    return str(row[0]), int(row[1] or 0), str(row[2])


def ledger_status_error(status: str, detail: str) -> Exception:
    """Map a status word of the SQL posting functions to its typed error."""
    errors: dict[str, Exception] = {
        AccountErrorCode.ACCOUNT_NOT_FOUND: AccountNotFound(f"Account {detail} does not exist"),
        AccountErrorCode.SAME_ACCOUNT: SameAccount("Debit and credit account are the same"),
        AccountErrorCode.CURRENCY_MISMATCH: CurrencyMismatch(
            f"Cannot move between {detail} accounts",
            fields={"currency": ["Both accounts must hold the same currency."]},
        ),
        "over_cap": ValidationFailed("Amount over the cap", fields={"amount": ["Too large."]}),
        AccountErrorCode.ACCOUNT_CLOSED: AccountClosed(f"Account {detail} is closed"),
        AccountErrorCode.ACCOUNT_FROZEN: AccountFrozen(f"Account {detail} is frozen"),
        AccountErrorCode.INSUFFICIENT_FUNDS: InsufficientFunds(
            "Insufficient funds", fields={"amount": ["More than the available balance."]}
        ),
    }
    return errors.get(status) or InvariantViolation(f"ledger_transfer status {status!r}")


def transfer_reverse(
    *,
    transfer_id: int,
    actor: Actor,
    reason: str,
    client_address: str | None = None,
) -> Transfer:
    """Post the mirror image of a transfer. A transfer is reversed at most once.

    The reversal may take the account below what a customer could spend
    (posting is checked like any debit), so callers that must recover money
    regardless (a reorged deposit) freeze the account first and handle
    ``InsufficientFunds`` themselves.
    """
    if not reason.strip():
        raise ValidationFailed("A reason is required", fields={"reason": ["Say why."]})
    with transaction.atomic():
        original = Transfer.objects.filter(pk=transfer_id).first()
        if original is None:
            raise NotFound("Transfer not found")
        accounts = lock_accounts([original.debit_account_id, original.credit_account_id])
        if Transfer.objects.filter(reverses_id=original.pk).exists():
            raise AlreadyReversed(f"Transfer {original.pk} was already reversed")
        debit = accounts[original.credit_account_id]
        credit = accounts[original.debit_account_id]
        check_debit(debit, original.amount_minor, allow_frozen=True)
        reversal = post_locked(
            debit=debit,
            credit=credit,
            amount_minor=original.amount_minor,
            code=TransferCode.REVERSAL,
            group_id=original.group_id,
            initiator=actor,
            memo=reason,
            reverses=original,
            kzt_value_tiyn=original.kzt_value_tiyn,
        )
        audit_record(
            actor=actor,
            action="transfer.reverse",
            obj=reversal,
            data={**_transfer_data(reversal), "reverses": original.pk, "reason": reason},
            client_address=client_address,
        )
        return reversal


def _transfer_data(transfer: Transfer) -> dict[str, Any]:
    return {
        "debit": transfer.debit_account_id,
        "credit": transfer.credit_account_id,
        "amount_minor": transfer.amount_minor,
        "currency": transfer.currency,
        "code": transfer.code,
        "group_id": str(transfer.group_id),
    }
