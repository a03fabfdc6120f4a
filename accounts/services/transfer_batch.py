"""Many transfers in one atomic SQL call (``ledger_transfer_batch``, migration 0008).

For the places where movements come in numbers: deposit credits of a block,
merchant auto-settlement, bulk payouts from a business customer's file. Every
item carries its own idempotency key, is checked like ``transfer_create`` checks
one transfer and writes its own audit event; the batch posts all of them or none.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from accounts.models import Transfer, TransferCode
from accounts.services.posting import (
    SourceRef,
    check_key,
    request_hash,
    source_label,
    source_ref,
)
from accounts.services.transfers import CAPS_JSON, IDEMPOTENCY_CONSTRAINT, ledger_status_error
from core.errors import ApplicationError, IdempotencyConflict, InvariantViolation, ValidationFailed
from core.pg_arrays import bool_array, int_array, text_array

# One call holds every touched account and, at its end, the audit chain head:
# bound it so that no batch keeps other writers waiting for long.
TRANSFER_BATCH_MAX = 5_000
_CODES = frozenset(TransferCode.values)


@dataclass(frozen=True)
class TransferSpec:
    """One item of a batch: the arguments ``transfer_create`` takes for one transfer."""

    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    code: str
    initiator: Any | None = None
    idempotency_key: str | None = None
    memo: str = ""
    source: models.Model | SourceRef | None = None
    group_id: uuid.UUID | None = None
    allow_frozen_debit: bool = False
    kzt_value_tiyn: int | None = None


def spec_request_hash(spec: TransferSpec) -> str:
    """Fingerprint an item exactly as ``transfer_create`` fingerprints its request.

    So a key first used by a single transfer replays (or conflicts) in a batch, and
    the other way round.
    """
    return request_hash(
        {
            "debit": spec.debit_account_id,
            "credit": spec.credit_account_id,
            "amount": spec.amount_minor,
            "code": spec.code,
            "source": source_label(spec.source),
        }
    )


def _check(specs: Sequence[TransferSpec]) -> None:
    if len(specs) > TRANSFER_BATCH_MAX:
        raise ValidationFailed(
            f"At most {TRANSFER_BATCH_MAX} transfers per batch",
            fields={"transfers": [f"At most {TRANSFER_BATCH_MAX}."]},
        )
    seen: set[tuple[int | None, str]] = set()
    for index, spec in enumerate(specs):
        amount = spec.amount_minor
        if spec.code not in _CODES:
            raise _item(index, ValidationFailed(f"Unknown transfer code {spec.code!r}"))
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise _item(index, ValidationFailed("Amount must be positive"))
        try:
            check_key(spec.idempotency_key)
        except ValidationFailed as exc:
            raise _item(index, exc) from None
        if spec.idempotency_key is not None:
            pair = (getattr(spec.initiator, "pk", None), spec.idempotency_key)
            if pair in seen:
                raise _item(index, ValidationFailed("Idempotency key repeated in the batch"))
            seen.add(pair)


def _item(index: int, error: ApplicationError) -> ApplicationError:
    """Name the failing item (0-based) in the error's fields; keep its type and code."""
    error.fields = {f"transfers[{index}]": [error.message], **error.fields}
    return error


def transfer_batch_create(
    *, transfers: Sequence[TransferSpec], client_address: str | None = None
) -> list[Transfer]:
    """Post every transfer of the batch, in order, atomically; return them in the same order.

    Items whose key was seen before with the same request are returned as they were
    first posted (and not posted again); a key seen with a different request raises
    ``IdempotencyConflict``. The first item that fails its checks (status, currency,
    available funds as the batch runs in order) raises its typed error, naming the
    item in ``fields``, and nothing of the batch is written.
    """
    specs = list(transfers)
    _check(specs)
    if not specs:
        return []
    now = timezone.now()
    params = _params(specs, now, client_address)
    rows = _checked(specs, _call_once_more(params))
    return _results(params, rows, now)


def transfer_batch_post(
    *, transfers: Sequence[TransferSpec], client_address: str | None = None
) -> list[int]:
    """Post like ``transfer_batch_create``; return only the transfer ids, in the same order.

    For callers that keep plain rows (no ``Transfer`` is built or read back, a
    replayed item gives the id it was first posted with). Same checks, same errors.
    """
    specs = list(transfers)
    _check(specs)
    if not specs:
        return []
    params = _params(specs, timezone.now(), client_address)
    return [int(r[2]) for r in _checked(specs, _call_once_more(params)) if r[2] is not None]


def _call_once_more(params: list[Any]) -> list[tuple[int, str, int | None, str]]:
    literals = _literals(params)
    try:
        return _call(literals)
    except IntegrityError as exc:
        # A key of the batch was committed concurrently: the retry sees it as a replay.
        if IDEMPOTENCY_CONSTRAINT not in str(exc):
            raise
        return _call(literals)


# The array columns of ``_params`` in _CALL_SQL's order: how each is written as a literal.
_ARRAYS = (
    int_array, int_array, int_array, text_array, int_array, text_array, text_array,
    text_array, text_array, int_array, text_array, bool_array, int_array, text_array,
)  # fmt: skip


def _literals(params: list[Any]) -> list[Any]:
    """The array columns as literals (core/pg_arrays.py says why); the rest as they are."""
    arrays = [write(column) for write, column in zip(_ARRAYS, params, strict=False)]
    return [*arrays, *params[len(_ARRAYS) :]]


def _params(specs: list[TransferSpec], now: Any, client_address: str | None) -> list[Any]:
    columns: list[list[Any]] = [[] for _ in range(14)]
    for spec in specs:
        source_type, source_id = source_ref(spec.source)
        values = (
            spec.debit_account_id,
            spec.credit_account_id,
            spec.amount_minor,
            spec.code,
            getattr(spec.initiator, "pk", None),
            spec.idempotency_key,
            spec_request_hash(spec),
            spec.memo[:255],
            spec.group_id or uuid.uuid4(),
            source_type.pk if source_type else None,
            source_id,
            spec.allow_frozen_debit,
            spec.kzt_value_tiyn,
            str(spec.initiator) if spec.initiator is not None else "system",
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    return [*columns, client_address, now, CAPS_JSON]


_CALL_SQL = (
    "SELECT idx, status, transfer_id, detail FROM ledger_transfer_batch("
    "%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::bigint[], %s::text[], "
    "%s::text[], %s::text[], %s::uuid[], %s::integer[], %s::text[], %s::boolean[], "
    "%s::bigint[], %s::text[], %s::inet, %s::timestamptz, %s::jsonb)"
)


def _call(params: list[Any]) -> list[tuple[int, str, int | None, str]]:
    # As in transfer_create: autocommit outside a transaction (one round trip), a
    # savepoint inside one (a key race must not abort the caller's transaction).
    scope = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with scope, connection.cursor() as cursor:
        cursor.execute(_CALL_SQL, params)
        return [(int(r[0]), str(r[1]), r[2], str(r[3] or "")) for r in cursor.fetchall()]


def _checked(
    specs: list[TransferSpec], rows: list[tuple[int, str, int | None, str]]
) -> list[tuple[int, str, int | None, str]]:
    """Raise the typed error of a refused batch; return the rows of a posted one."""
    if len(rows) == 1 and rows[0][1] not in ("ok", "replay") and len(specs) >= 1:
        index, status, _, detail = rows[0]
        if status == "idempotency_conflict":
            raise _item(
                index - 1,
                IdempotencyConflict(
                    "This idempotency key was already used for a different request.",
                    fields={"idempotency_key": ["Already used for a different request."]},
                ),
            )
        error = ledger_status_error(status, detail)
        if not isinstance(error, ApplicationError):
            raise error
        raise _item(index - 1, error)
    if len(rows) != len(specs) or any(r[1] not in ("ok", "replay") or r[2] is None for r in rows):
        raise InvariantViolation(f"ledger_transfer_batch returned {rows[:3]!r}...")
    return rows


def _results(
    params: list[Any], rows: list[tuple[int, str, int | None, str]], now: Any
) -> list[Transfer]:
    replayed = {
        t.pk: t for t in Transfer.objects.filter(pk__in=[r[2] for r in rows if r[1] == "replay"])
    }
    out: list[Transfer] = []
    for position, (_, status, transfer_id, currency) in enumerate(rows):
        assert transfer_id is not None
        if status == "replay":
            out.append(replayed[transfer_id])
        else:
            out.append(_built(params, position, transfer_id, currency, now))
    return out


def _built(params: list[Any], i: int, transfer_id: int, currency: str, now: Any) -> Transfer:
    """Build the saved row from what was sent, sparing a read-back round trip."""
    # Positional, in the model's field order: Django's fast path (as ``from_db`` does).
    # Any, not list[Any]: django-stubs checks `Transfer(*values)` as if the list were the first
    # field (depending on the order mypy meets the modules in).
    values: Any = [
        transfer_id,
        params[8][i],  # group_id
        params[0][i],  # debit_account_id
        params[1][i],  # credit_account_id
        params[2][i],  # amount_minor
        currency,
        params[3][i],  # code
        params[9][i],  # source_type_id
        params[10][i],  # source_id
        params[4][i],  # initiator_id
        params[5][i],  # idempotency_key
        params[6][i],  # request_hash
        params[7][i],  # memo
        None,  # reverses_id
        params[12][i],  # kzt_value_tiyn
        now,  # created_at
    ]
    transfer = Transfer(*values)
    transfer._state.adding = False
    transfer._state.db = "default"
    return transfer
