"""Cold descriptors are pinned by four eyes; sweeps go only to pinned descriptors.

One custody operator proposes public descriptors (the proposal carries their key
fingerprints, shown to both people); a different operator approves, and only then are
they recorded as the bank's and imported into the watch-only wallet (after commit: no
node call while the approval's row is locked). A sweep takes a fresh cold address and
refuses it unless the node says it derives from an approved receive descriptor, so a
descriptor slipped into the node's wallet by hand never receives the hot wallet's
excess; reconciliation flags cold coins on any descriptor that is not approved.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.actor import Actor
from audit.chain import audit_record
from compliance.models import ApprovalRequest
from compliance.permissions import require_perm
from compliance.services.approvals import approval_action_register, approval_propose
from custody.models import Wallet
from custody.node import sats
from treasury.errors import DescriptorInvalid, DescriptorUnapproved
from treasury.models import ColdDescriptor
from treasury.services.cold import checked_descriptor, cold_wallet_setup
from treasury.services.common import COLD_MOVE_PERMISSION, cold_wallet

logger = logging.getLogger("alatau.treasury.descriptors")

ACTION = "cold_descriptors_import"
DESCRIPTORS_MAX = 10
RANGE_END_MAX = 100_000
UNAPPROVED_ADDRESSES_MAX = 500  # reconciliation looks at this many cold addresses at most


def cold_descriptors_propose(
    *, descriptors: list[str], actor: Actor, range_end: int = 999,
    timestamp: int | str = "now", reason: str = "", client_address: str | None = None,
) -> ApprovalRequest:  # fmt: skip
    """Propose public descriptors for the cold wallet; another operator approves them."""
    require_perm(actor, COLD_MOVE_PERMISSION)
    if not 1 <= len(descriptors) <= DESCRIPTORS_MAX:
        raise DescriptorInvalid(f"Give 1 to {DESCRIPTORS_MAX} descriptors")
    if not 0 < range_end <= RANGE_END_MAX:
        raise DescriptorInvalid(f"Range end must be 1 to {RANGE_END_MAX}")
    checked = [checked_descriptor(d) for d in descriptors]  # the node checks, no lock held
    wallet = cold_wallet_setup()
    fingerprints = sorted({c["fingerprint"] for c in checked})
    return approval_propose(
        actor=actor, action=ACTION, target=wallet,
        params={"descriptors": checked, "fingerprints": fingerprints, "range_end": range_end,
                "timestamp": timestamp},
        reason=reason or f"pin cold descriptors of key(s) {', '.join(fingerprints)}",
        client_address=client_address,
    )  # fmt: skip


def _approve_execute(request: ApprovalRequest, actor: Actor) -> dict[str, Any]:
    """The second operator's approval: record the descriptors as the bank's."""
    wallet = Wallet.objects.select_for_update().get(pk=int(request.target_id))
    params = request.params
    rows = []
    for c in params["descriptors"]:
        row, created = ColdDescriptor.objects.get_or_create(
            wallet=wallet, checksum=c["checksum"],
            defaults={"descriptor": c["descriptor"], "fingerprint": c["fingerprint"],
                      "internal": c["internal"], "range_end": int(params["range_end"]),
                      "imported_by_id": request.proposed_by_id, "approved_by": actor,
                      "approval": request},
        )  # fmt: skip
        if not created and row.approved_by_id is None:
            raise DescriptorInvalid(
                f"Descriptor #{row.checksum} exists unapproved: reject it first"
            )
        rows.append(row.pk)
    wallet.fingerprints = sorted({*wallet.fingerprints, *params["fingerprints"]})
    wallet.save(update_fields=["fingerprints"])
    audit_record(actor=actor, action="cold.descriptors_pin", obj=wallet,
                 data={"fingerprints": params["fingerprints"], "descriptors": rows,
                       "proposed_by": request.proposed_by_id})  # fmt: skip
    timestamp = params.get("timestamp", "now")
    transaction.on_commit(partial(cold_descriptors_activate, timestamp=timestamp))
    return {"descriptors": rows, "fingerprints": params["fingerprints"]}


def cold_descriptors_activate(*, timestamp: int | str = "now") -> int:
    """Import approved descriptors the node's cold wallet does not have yet; return how many."""
    pending = list(ColdDescriptor.objects.filter(approved_by__isnull=False, imported_at=None))
    if not pending:
        return 0
    cold_wallet_setup()
    request = [{"desc": d.descriptor, "active": True, "internal": d.internal,
                "range": [0, d.range_end], "timestamp": timestamp} for d in pending]  # fmt: skip
    replies = cold_wallet().call("importdescriptors", request)
    done = [d.pk for d, r in zip(pending, replies, strict=True) if r.get("success")]
    ColdDescriptor.objects.filter(pk__in=done).update(imported_at=timezone.now())
    if len(done) != len(pending):
        logger.error("the node refused some approved cold descriptors",
                     extra={"refused": [d.pk for d in pending if d.pk not in done]})  # fmt: skip
    return len(done)


def _approved_checksums(*, internal: bool | None = None) -> set[str]:
    rows = ColdDescriptor.objects.filter(approved_by__isnull=False)
    if internal is not None:
        rows = rows.filter(internal=internal)
    return set(rows.values_list("checksum", flat=True))


def _parent_checksum(address: str) -> str:
    info = cold_wallet().call("getaddressinfo", address)
    parent = str(info.get("parent_desc") or "")
    return parent.rsplit("#", 1)[1] if "#" in parent else ""


def cold_address_pinned() -> str:
    """Return a fresh cold receive address on an approved descriptor, or refuse."""
    address = str(cold_wallet().call("getnewaddress", "sweep", "bech32"))
    if _parent_checksum(address) not in _approved_checksums(internal=False):
        raise DescriptorUnapproved(
            "The cold wallet's next address is not on a descriptor two operators approved; "
            "no sweep goes there"
        )
    return address


def cold_addresses_unapproved(addresses: list[str]) -> set[str]:
    """Return those of ``addresses`` (cold wallet's) that derive from no approved descriptor."""
    approved = _approved_checksums()
    return {a for a in addresses[:UNAPPROVED_ADDRESSES_MAX] if _parent_checksum(a) not in approved}


def cold_coins_unapproved() -> dict[str, Any]:
    """Return the cold wallet's coins on descriptors nobody approved: count, sats, addresses."""
    approved = _approved_checksums()
    coins = cold_wallet().call("listunspent", 0)
    by_address: dict[str, int] = {}
    for coin in coins[:UNAPPROVED_ADDRESSES_MAX]:
        by_address[str(coin["address"])] = by_address.get(str(coin["address"]), 0) + sats(
            coin["amount"]
        )
    unapproved = {a: v for a, v in by_address.items() if _parent_checksum(a) not in approved}
    return {"coins_sats": sum(unapproved.values()), "addresses": sorted(unapproved)[:20]}


approval_action_register(
    ACTION, permission=COLD_MOVE_PERMISSION, executor=_approve_execute,
    description=gettext_noop("Pin public descriptors of the cold wallet"),
)  # fmt: skip
