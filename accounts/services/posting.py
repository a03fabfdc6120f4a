"""Low-level posting primitives shared by transfers and holds.

Callers must run inside ``transaction.atomic`` and lock with ``lock_accounts``
before posting. Nothing here checks permissions: the use-case services do.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Case, F, Value, When

from accounts.errors import (
    AccountClosed,
    AccountFrozen,
    AccountNotFound,
    CurrencyMismatch,
    InsufficientFunds,
    SameAccount,
)
from accounts.models import OWNED_KINDS, Account, AccountStatus, Transfer
from core.errors import IdempotencyConflict, ValidationFailed, invariant
from core.money import check_minor


def request_hash(fields: dict[str, Any]) -> str:
    """Fingerprint a request so a reused idempotency key can be compared."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def check_replay(existing: Any, fingerprint: str) -> Any:
    """Return the earlier result for a reused key, or raise if the request differs."""
    if existing.request_hash != fingerprint:
        raise IdempotencyConflict(
            "This idempotency key was already used for a different request.",
            fields={"idempotency_key": ["Already used for a different request."]},
        )
    return existing


def check_key(key: str | None) -> None:
    if key is not None and not (1 <= len(key) <= 128 and key.isprintable()):
        raise ValidationFailed(
            "Invalid idempotency key",
            fields={"idempotency_key": ["1 to 128 printable characters."]},
        )


def lock_accounts(account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock the accounts ``FOR UPDATE`` in ascending id order (deadlock-free) and return them."""
    ids = sorted(set(account_ids))
    locked = {
        a.pk: a for a in Account.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    missing = [i for i in ids if i not in locked]
    if missing:
        raise AccountNotFound(f"Account {missing[0]} does not exist")
    return locked


def accounts_lock(account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock every account of a multi-leg movement first, in one ordered statement.

    A service that moves money in several transfers in one transaction calls this
    before its first transfer and before anything writes the audit chain: each
    transfer then re-locks accounts it already holds, and the chain head (locked by
    ``audit_record``) is always taken last. Two movements then wait for each other on
    their lowest common account and can never deadlock (PostgreSQL would abort one).
    """
    return lock_accounts(account_ids)


@dataclass(frozen=True)
class SourceRef:
    """A transfer's source as its model and primary key, without loading the row.

    For callers that move many rows as plain values (the deposit scan credits
    thousands of deposits a block): stored and fingerprinted exactly like the model
    instance it names (``source_ref``, ``source_label``), so either form replays the
    other's key.
    """

    model: type[models.Model]
    pk: int | str


def source_ref(source: models.Model | SourceRef | None) -> tuple[ContentType | None, str]:
    """The (content type, id) columns a transfer or hold stores for its source."""
    if source is None:
        return None, ""
    model = source.model if isinstance(source, SourceRef) else source
    return ContentType.objects.get_for_model(model), str(source.pk)


def source_label(source: models.Model | SourceRef | None) -> str | None:
    """The source as request fingerprints name it (``app.model:pk``), None for none."""
    if source is None:
        return None
    model = source.model if isinstance(source, SourceRef) else source
    return f"{model._meta.label_lower}:{source.pk}"


def check_debit(account: Account, amount_minor: int, *, allow_frozen: bool) -> None:
    """Refuse a debit the account's status or available balance does not allow."""
    if account.status == AccountStatus.CLOSED:
        raise AccountClosed(f"Account {account.number} is closed")
    if account.status == AccountStatus.FROZEN and not allow_frozen:
        raise AccountFrozen(f"Account {account.number} is frozen")
    if account.kind in OWNED_KINDS and account.posted_minor - account.held_minor < amount_minor:
        raise InsufficientFunds(
            "Insufficient funds", fields={"amount": ["More than the available balance."]}
        )


def check_pair(debit: Account, credit: Account, amount_minor: int) -> None:
    if debit.pk == credit.pk:
        raise SameAccount("Debit and credit account are the same")
    if debit.currency != credit.currency:
        raise CurrencyMismatch(
            f"Cannot move {debit.currency} into a {credit.currency} account",
            fields={"currency": ["Both accounts must hold the same currency."]},
        )
    if credit.status == AccountStatus.CLOSED:
        raise AccountClosed(f"Account {credit.number} is closed")
    check_minor(amount_minor, debit.currency)


def post_locked(
    *,
    debit: Account,
    credit: Account,
    amount_minor: int,
    code: str,
    group_id: uuid.UUID,
    initiator: Any | None = None,
    memo: str = "",
    source: models.Model | None = None,
    reverses: Transfer | None = None,
    kzt_value_tiyn: int | None = None,
) -> Transfer:
    """Insert one transfer and move both balances. Accounts must already be locked and checked."""
    invariant(amount_minor > 0, "transfer amount must be positive")
    source_type, source_id = source_ref(source)
    transfer = Transfer.objects.create(
        group_id=group_id,
        debit_account=debit,
        credit_account=credit,
        amount_minor=amount_minor,
        currency=debit.currency,
        code=code,
        source_type=source_type,
        source_id=source_id,
        initiator=initiator,
        memo=memo[:255],
        reverses=reverses,
        kzt_value_tiyn=kzt_value_tiyn,
    )
    # One statement moves both balances; the CHECK constraint is the backstop
    # for the available-balance check done above under the same locks.
    Account.objects.filter(pk__in=[debit.pk, credit.pk]).update(
        posted_minor=Case(
            When(pk=debit.pk, then=F("posted_minor") - Value(amount_minor)),
            default=F("posted_minor") + Value(amount_minor),
        ),
        version=F("version") + 1,
    )
    debit.posted_minor -= amount_minor
    credit.posted_minor += amount_minor
    return transfer
