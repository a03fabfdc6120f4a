"""The hash-chained audit log: append an event, verify the chain.

Each event stores ``prev_hash`` and ``hash = sha256(prev_hash || payload)``.
The append is the SQL function ``audit_append`` (``audit/sql.py``), which the
ledger's SQL posting function calls too: it advances the chain head row and
inserts the event, so concurrent writers are ordered by the head row's lock
(held to commit; append last in a transaction to keep that window short).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection, models
from django.utils import timezone

from audit.models import AuditEvent
from core.actor import ActorLike as Actor

_APPEND_SQL = """
SELECT audit_append(%s::timestamptz, %s::bigint, %s::text, %s::text, %s::text, %s::text,
                    %s::inet, %s::jsonb, %s::text)
"""


# audit_append's parameters before data and payload, in its order.
_APPEND_FIELDS = (
    "created_at", "actor_id", "actor_label", "action", "object_type", "object_id",
    "client_address",
)  # fmt: skip


def _canonical(fields: dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)


def audit_record(
    *,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    data: dict[str, Any] | None = None,
    client_address: str | None = None,
    with_change: Sequence[tuple[str, Sequence[Any]]] = (),
) -> int:
    """Append one audit event and return its sequence number.

    ``actor`` is a user or ``None`` for the system. Runs inside the caller's
    transaction so the event commits (or rolls back) with the change it records.

    ``with_change``: INSERTs, UPDATEs or DELETEs (SQL with ``%s`` placeholders, params)
    sent in the same statement as the append (``WITH change0 AS (...), change1 AS (...)
    SELECT audit_append(...)``). A statement is atomic on its own, so the changes and
    their event are written together, or none, even with no transaction open: one round
    trip instead of BEGIN, each change, the append and COMMIT, and the chain head is held
    for that one statement only. (Django's foreign keys are deferred: a row may refer to
    one inserted by an earlier change of the same statement.)
    """
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    actor_id = getattr(actor, "pk", None)
    data = data or {}
    fields: dict[str, Any] = {
        "created_at": timezone.now().isoformat(),
        "actor_id": actor_id,
        "actor_label": str(actor) if actor is not None else "system",
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "client_address": client_address,
        "data": data,
    }
    payload = _canonical(fields)
    params: list[Any] = [
        *(fields[name] for name in _APPEND_FIELDS), _canonical(data), payload,
    ]  # fmt: skip
    sql = _APPEND_SQL
    if with_change:
        ctes = ", ".join(f"change{n} AS ({change})" for n, (change, _) in enumerate(with_change))
        sql = f"WITH {ctes} {_APPEND_SQL}"
        params = [*(p for _, change_params in with_change for p in change_params), *params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("audit chain head row is missing (run migrations)")
    return int(row[0])


@dataclass(frozen=True)
class AuditBreak:
    seq: int
    problem: str


class _Event(NamedTuple):
    """One audit event as plain column values: the walk builds no model per event."""

    seq: int
    created_at: datetime
    actor_id: int | None
    actor_label: str
    action: str
    object_type: str
    object_id: str
    client_address: str | None
    data: Any
    payload: str
    prev_hash: bytes
    hash: bytes


def _columns_match(event: _Event, fields: dict[str, Any]) -> bool:
    created = datetime.fromisoformat(fields["created_at"])
    return (
        event.action == fields["action"]
        and event.actor_id == fields["actor_id"]
        and event.actor_label == fields["actor_label"]
        and event.object_type == fields["object_type"]
        and event.object_id == fields["object_id"]
        and (event.client_address or None) == fields["client_address"]
        and event.data == fields["data"]
        and event.created_at == created
    )


def audit_verify(*, batch_size: int = 2000) -> list[AuditBreak]:
    """Walk the whole chain in order and return every break found (empty = intact)."""
    breaks: list[AuditBreak] = []
    prev_hash = b"\x00" * 32
    expected_seq = 1
    # Plain values through the fields' own converters (the same datetime, JSON and address
    # values the model would hold), about a third cheaper than a model object per event.
    rows = AuditEvent.objects.order_by("seq").values_list(*_Event._fields)
    for values in rows.iterator(chunk_size=batch_size):
        event = _Event._make(values)
        if event.seq != expected_seq:
            breaks.append(
                AuditBreak(expected_seq, f"missing events {expected_seq}..{event.seq - 1}")
            )
        stored_prev = bytes(event.prev_hash)
        if stored_prev != prev_hash:
            breaks.append(AuditBreak(event.seq, "prev_hash does not match the event before"))
        digest = hashlib.sha256(stored_prev + event.payload.encode()).digest()
        if digest != bytes(event.hash):
            breaks.append(AuditBreak(event.seq, "hash does not match payload (payload edited)"))
        try:
            if not _columns_match(event, json.loads(event.payload)):
                breaks.append(AuditBreak(event.seq, "columns differ from the hashed payload"))
        except (ValueError, KeyError):
            breaks.append(AuditBreak(event.seq, "payload is not valid JSON"))
        prev_hash = bytes(event.hash)
        expected_seq = event.seq + 1
    head = _head()
    if head is not None and head[0] != expected_seq - 1:
        breaks.append(
            AuditBreak(expected_seq, f"chain head says {head[0]}, last event is {expected_seq - 1}")
        )
    elif head is not None and head[1] != prev_hash:
        breaks.append(AuditBreak(expected_seq - 1, "chain head hash differs from the last event"))
    return breaks


def _head() -> tuple[int, bytes] | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, last_hash FROM compliance_auditchainhead WHERE id = 1")
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), bytes(row[1]))


def audit_chain_init() -> None:
    """Create the chain head row if it is missing (fresh or flushed database)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO compliance_auditchainhead (id, seq, last_hash, prev_hash) "
            "SELECT 1, COALESCE(MAX(seq), 0), %s, %s FROM compliance_auditevent "
            "ON CONFLICT (id) DO NOTHING",
            [b"\x00" * 32, b"\x00" * 32],
        )
