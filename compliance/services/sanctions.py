"""Staff maintenance of the sanctions list: add, import CSV, deactivate by four eyes.

Putting an address on the list (adding, reactivating, importing) takes effect at once:
it only ever stops money. Taking one off the list lets money through again, so one
staff member proposes it and a different one approves (``sanctions_deactivate``).
Rows are never deleted.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_noop

from accounts.actor import Actor
from audit.chain import audit_record
from compliance.errors import FourEyesViolation
from compliance.models import ApprovalRequest, SanctionedAddress
from compliance.permissions import require_perm
from compliance.services.approvals import approval_action_register, approval_propose
from core.errors import InvalidState, NotFound, ValidationFailed

MANAGE_SANCTIONS = "compliance.manage_sanctions"
DEACTIVATE = "sanctions_deactivate"
IMPORT_MAX_ROWS = 50_000
IMPORT_MAX_BYTES = 5 * 1024 * 1024
# Base58 (legacy, P2SH) and bech32/bech32m addresses of any network.
_ADDRESS = re.compile(
    r"^(?:[13mn2][1-9A-HJ-NP-Za-km-z]{25,34}|(?:bc|tb|bcrt)1[02-9ac-hj-np-z]{6,87})$", re.IGNORECASE
)


def _clean_address(address: str) -> str:
    address = (address or "").strip()
    if not _ADDRESS.match(address):
        raise ValidationFailed("Not a bitcoin address", fields={"address": [address[:100]]})
    if address.lower().startswith(("bc1", "tb1", "bcrt1")):
        address = address.lower()
    return address


def sanctioned_address_add(
    *,
    actor: Actor,
    address: str,
    source: str = "",
    note: str = "",
    client_address: str | None = None,
) -> SanctionedAddress:
    """Put an address on the list (or reactivate it)."""
    actor = require_perm(actor, MANAGE_SANCTIONS)
    address = _clean_address(address)
    with transaction.atomic():
        row, created = SanctionedAddress.objects.get_or_create(
            address=address,
            defaults={"source": source[:120], "note": note[:300], "added_by": actor},
        )
        if not created and not row.active:
            row.active = True
            row.save(update_fields=["active"])
        audit_record(
            actor=actor,
            action="sanctions.add",
            obj=row,
            data={"address": address, "source": source[:120], "created": created},
            client_address=client_address,
        )
    return row


def sanctioned_address_set_active(
    *,
    actor: Actor,
    address_id: int,
    active: bool,
    reason: str,
    client_address: str | None = None,
    approval: ApprovalRequest | None = None,
) -> SanctionedAddress:
    """Put an address back on the list at once; take one off only through four eyes.

    ``active=False`` is refused unless ``approval`` is the approved request of someone
    else (the four-eyes executor passes it): use ``sanctioned_address_deactivate_propose``.
    """
    actor = require_perm(actor, MANAGE_SANCTIONS)
    if not (reason or "").strip():
        raise ValidationFailed("A reason is required", fields={"reason": ["Say why."]})
    if not active and (
        approval is None
        or approval.action != DEACTIVATE
        or approval.target_id != str(address_id)
        or approval.approved_by_id != actor.pk
        or approval.proposed_by_id == actor.pk
    ):
        raise FourEyesViolation(
            "Taking an address off the sanctions list needs four eyes: "
            "one staff member proposes, another approves"
        )
    with transaction.atomic():
        row = SanctionedAddress.objects.select_for_update().filter(pk=address_id).first()
        if row is None:
            raise NotFound("Sanctioned address not found")
        row.active = active
        row.save(update_fields=["active"])
        audit_record(
            actor=actor,
            action="sanctions.set_active",
            obj=row,
            data={
                "active": active,
                "reason": reason.strip(),
                "approval": approval.pk if approval else None,
            },
            client_address=client_address,
        )
    return row


def sanctioned_address_deactivate_propose(
    *, actor: Actor, address_id: int, reason: str, client_address: str | None = None
) -> ApprovalRequest:
    """Propose taking an address off the list; it stays listed until a second person approves."""
    row = SanctionedAddress.objects.filter(pk=address_id).first()
    if row is None:
        raise NotFound("Sanctioned address not found")
    if not row.active:
        raise InvalidState("The address is not on the list")
    return approval_propose(
        actor=actor,
        action=DEACTIVATE,
        target=row,
        params={"address": row.address, "source": row.source},
        reason=reason,
        client_address=client_address,
    )


def _deactivate_execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    row = sanctioned_address_set_active(
        actor=actor,
        address_id=int(request.target_id),
        active=False,
        reason=f"four eyes: {request.reason}",
        approval=request,
    )
    return {"address": row.address, "active": row.active}


approval_action_register(
    DEACTIVATE,
    permission=MANAGE_SANCTIONS,
    executor=_deactivate_execute,
    description=gettext_noop("Take an address off the sanctions list"),
)


def sanctions_import_csv(
    *, actor: Actor, content: bytes, source: str, client_address: str | None = None
) -> dict[str, Any]:
    """Import addresses from CSV (first column ``address``, optional ``note``; header optional).

    All or nothing: any invalid row rejects the whole file, listing the bad lines.
    """
    actor = require_perm(actor, MANAGE_SANCTIONS)
    if len(content) > IMPORT_MAX_BYTES:
        raise ValidationFailed("The file is too large", fields={"file": ["At most 5 MB."]})
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("The file is not UTF-8 text", fields={"file": [str(exc)]}) from exc
    rows: dict[str, str] = {}
    errors: list[str] = []
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not row[0].strip() or row[0].strip().lower() == "address":
            continue
        if len(rows) >= IMPORT_MAX_ROWS:
            raise ValidationFailed(f"At most {IMPORT_MAX_ROWS} rows per file")
        try:
            rows[_clean_address(row[0])] = (row[1] if len(row) > 1 else "").strip()[:300]
        except ValidationFailed:
            errors.append(f"line {line_no}: {row[0][:100]!r} is not a bitcoin address")
    if errors:
        raise ValidationFailed("The file has invalid rows", fields={"file": errors[:50]})
    with transaction.atomic():
        existing = dict(
            SanctionedAddress.objects.filter(address__in=rows).values_list("address", "active")
        )
        new = [
            SanctionedAddress(address=a, note=n, source=source[:120], added_by=actor)
            for a, n in rows.items()
            if a not in existing
        ]
        SanctionedAddress.objects.bulk_create(new)
        reactivated = SanctionedAddress.objects.filter(
            address__in=[a for a, active in existing.items() if not active]
        ).update(active=True)
        result = {
            "added": len(new),
            "reactivated": reactivated,
            "already_listed": len(existing) - reactivated,
            "source": source[:120],
        }
        audit_record(
            actor=actor,
            action="sanctions.import",
            object_type="compliance.sanctionedaddress",
            data=result,
            client_address=client_address,
        )
    return result
