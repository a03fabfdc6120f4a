"""Anchors: the chain head, sealed with a key the database never sees, kept outside it.

The hash chain alone shows tampering only to someone who trusts the database: an
administrator could rewrite a suffix of events and recompute every hash. So, on a
schedule, ``audit_anchor_publish`` takes the head (sequence number and hash), seals it
with ``HMAC-SHA256(AUDIT_HMAC_KEY, "seq:hash")`` and appends it as one JSON line to
``AUDIT_ANCHOR_DIR/anchors.jsonl`` (in production a write-once store or a log shipper
that the database's administrators cannot rewrite). ``audit_anchors_verify`` then
checks each anchor's seal with the key and that the event at its sequence number still
carries the anchored hash: a rewritten suffix that reaches back past an anchor shows.
Events after the newest anchor are protected only by the chain until the next one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit.chain import AuditBreak
from audit.models import AuditEvent

ANCHOR_FILE = "anchors.jsonl"


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash_hex: str
    at: str
    mac_hex: str


def _key() -> bytes:
    key = str(settings.AUDIT_HMAC_KEY)
    if len(key) < 32:
        raise RuntimeError("AUDIT_HMAC_KEY must be set (at least 32 characters)")
    return key.encode()


def _seal(seq: int, hash_hex: str) -> str:
    return hmac.new(_key(), f"{seq}:{hash_hex}".encode(), hashlib.sha256).hexdigest()


def _path() -> Path:
    return Path(settings.AUDIT_ANCHOR_DIR) / ANCHOR_FILE


def audit_anchor_publish() -> Anchor:
    """Seal the chain head now and append it to the anchor file (flushed to disk)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, last_hash FROM compliance_auditchainhead WHERE id = 1")
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("audit chain head row is missing (run migrations)")
    seq, hash_hex = int(row[0]), bytes(row[1]).hex()
    anchor = Anchor(seq, hash_hex, timezone.now().isoformat(), _seal(seq, hash_hex))
    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(anchor.__dict__, sort_keys=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return anchor


def audit_anchors_read() -> list[Anchor]:
    """Return every published anchor, oldest first (none if none was published)."""
    path = _path()
    if not path.exists():
        return []
    anchors = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            data = json.loads(text)
            anchors.append(Anchor(int(data["seq"]), str(data["hash_hex"]), str(data["at"]),
                                  str(data["mac_hex"])))  # fmt: skip
        except (ValueError, KeyError, TypeError):
            anchors.append(Anchor(-number, "", "", ""))  # unreadable line: reported below
    return anchors


def audit_anchors_verify() -> list[AuditBreak]:
    """Check every anchor's seal and that the chain still holds the anchored hashes."""
    breaks: list[AuditBreak] = []
    for anchor in audit_anchors_read():
        if anchor.seq < 0:
            breaks.append(AuditBreak(anchor.seq, f"anchor line {-anchor.seq} is unreadable"))
            continue
        if not hmac.compare_digest(anchor.mac_hex, _seal(anchor.seq, anchor.hash_hex)):
            breaks.append(AuditBreak(anchor.seq, "anchor seal does not match (forged anchor)"))
            continue
        if anchor.seq == 0:
            continue
        event = AuditEvent.objects.filter(seq=anchor.seq).only("hash").first()
        if event is None:
            breaks.append(AuditBreak(anchor.seq, "the anchored event is missing"))
        elif bytes(event.hash).hex() != anchor.hash_hex:
            breaks.append(AuditBreak(anchor.seq, "the chain was rewritten since this anchor"))
    return breaks
