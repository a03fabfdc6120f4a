"""Identity (KYC) submission: the Kazakh IIN check, document checks, the submit use case."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Identity, KycStatus
from audit.chain import audit_record
from compliance.models import TierLimit
from core.errors import InvalidState, ValidationFailed

IIN_WEIGHTS_FIRST = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
IIN_WEIGHTS_SECOND = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
# The 7th IIN digit: century of birth and sex.
IIN_CENTURY = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}

DOCUMENT_MAX_BYTES = 5 * 1024 * 1024
# Magic bytes of the document types we accept, and the extension each is stored under.
DOCUMENT_TYPES: tuple[tuple[bytes, str, tuple[str, ...]], ...] = (
    (b"%PDF-", "pdf", ("pdf",)),
    (b"\xff\xd8\xff", "jpg", ("jpg", "jpeg")),
    (b"\x89PNG\r\n\x1a\n", "png", ("png",)),
)

# What each KYC tier allows, in one place. Compliance enforces the limits;
# this is what the customer is told.
TIER_DESCRIPTIONS: dict[int, str | Promise] = {
    0: gettext_lazy(
        "Email confirmed: deposit, exchange and transfers inside Alatau; no withdrawals."
    ),
    1: gettext_lazy("Identity approved: withdrawals and merchant payments within standard limits."),
    2: gettext_lazy("Enhanced review: higher daily and monthly limits."),
}


@dataclass(frozen=True)
class IinInfo:
    birth_date: dt.date
    sex: str  # "M" or "F"


def _iin_error(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"iin": [message]})


def iin_check_digit(first11: str) -> int | None:
    """Return the IIN check digit for the first 11 digits, or None if none exists."""
    digits = [int(c) for c in first11]
    for weights in (IIN_WEIGHTS_FIRST, IIN_WEIGHTS_SECOND):
        rest = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if rest != 10:
            return rest
    return None


def iin_validate(iin: str) -> IinInfo:
    """Check a Kazakh IIN (12 digits: YYMMDD, century/sex, serial, check digit).

    Return the birth date and sex it encodes, or raise ``ValidationFailed``.
    """
    if len(iin) != 12 or not iin.isascii() or not iin.isdigit():
        raise _iin_error(_("An IIN is exactly 12 digits."))
    century = IIN_CENTURY.get(iin[6])
    if century is None:
        raise _iin_error(_("The 7th digit of an IIN must be 1 to 6."))
    try:
        birth = dt.date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        raise _iin_error(_("The first six digits of the IIN are not a valid date.")) from None
    check = iin_check_digit(iin[:11])
    if check is None or check != int(iin[11]):
        raise _iin_error(_("This IIN's check digit is wrong. Please check the number."))
    return IinInfo(birth_date=birth, sex="M" if int(iin[6]) % 2 else "F")


def document_check(document: UploadedFile) -> str:
    """Check an identity document's size and type (by its bytes); return the extension."""
    if document.size is None or document.size > DOCUMENT_MAX_BYTES:
        raise ValidationFailed(
            "Document too large", fields={"document": [_("The file must be 5 MB or smaller.")]}
        )
    document.seek(0)
    head = document.read(16)
    document.seek(0)
    name = (document.name or "").lower()
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    for magic, stored_as, extensions in DOCUMENT_TYPES:
        if head.startswith(magic):
            if extension not in extensions:
                break
            return stored_as
    raise ValidationFailed(
        "Unsupported document type",
        fields={"document": [_("Upload a PDF, JPEG or PNG file (the name must match its type).")]},
    )


def identity_for(*, user: Any) -> Identity:
    """Return the user's identity record, creating an empty one if needed."""
    identity, _ = Identity.objects.get_or_create(user=user)
    return identity


def identity_submit(
    *,
    user: Any,
    full_name: str,
    date_of_birth: dt.date,
    iin: str,
    address: str,
    document: UploadedFile,
    client_address: str | None = None,
) -> Identity:
    """Submit the customer's identity for review (first time or after a rejection)."""
    errors: dict[str, list[str]] = {}
    full_name, address = " ".join(full_name.split()), " ".join(address.split())
    if len(full_name) < 3 or " " not in full_name:
        errors["full_name"] = [_("Enter your first and last name as in your document.")]
    if len(address) < 10:
        errors["address"] = [_("Enter your full registered address.")]
    try:
        info = iin_validate(iin)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    else:
        if info.birth_date != date_of_birth:
            errors["date_of_birth"] = [_("The date of birth does not match the one in your IIN.")]
    if date_of_birth > timezone.localdate() - dt.timedelta(days=18 * 365 + 4):
        errors.setdefault("date_of_birth", [_("You must be 18 or older.")])
    try:
        extension = document_check(document)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationFailed(_("Please correct the errors below."), fields=errors)
    with transaction.atomic():
        identity, _created = Identity.objects.select_for_update().get_or_create(user=user)
        if identity.status not in (KycStatus.NONE, KycStatus.REJECTED):
            raise InvalidState(_("Your identity is already submitted or approved."))
        document.name = f"{uuid.uuid4().hex}.{extension}"
        identity.full_name = full_name
        identity.date_of_birth = date_of_birth
        identity.iin = iin
        identity.address = address
        identity.document = document
        identity.status = KycStatus.SUBMITTED
        identity.submitted_at = timezone.now()
        identity.decision_reason = ""
        identity.save(
            update_fields=[
                "full_name",
                "date_of_birth",
                "iin",
                "address",
                "document",
                "status",
                "submitted_at",
                "decision_reason",
            ]
        )
        audit_record(
            actor=user,
            action="identity.submit",
            obj=identity,
            data={"iin_last4": iin[-4:]},
            client_address=client_address,
        )
    return identity


def masked_name(user: Any) -> str:
    """Return a name safe to show another customer: "Aigerim N." or a masked email."""
    identity = Identity.objects.filter(user=user).exclude(full_name="").first()
    if identity is not None:
        parts = identity.full_name.split()
        if len(parts) >= 2:
            return f"{parts[0]} {parts[-1][0]}."
        return parts[0]
    local, _, domain = str(user.email).partition("@")
    return f"{local[:1]}***@{domain}"


LIMIT_KIND_LABELS = {
    "withdrawal": gettext_lazy("Withdrawals"),
    "transfer": gettext_lazy("Transfers"),
}


def tier_table() -> list[dict[str, Any]]:
    """Return each tier with what it allows and its limits (compliance's ``TierLimit`` rows)."""
    limits: dict[int, list[str]] = {}
    for row in TierLimit.objects.order_by("tier", "kind"):
        kind = str(LIMIT_KIND_LABELS.get(row.kind, row.kind))
        if row.per_transaction_tiyn == 0:
            text = _("%(kind)s: not allowed") % {"kind": kind}
        else:
            text = _("%(kind)s: up to %(each)s each, %(day)s a day, %(month)s a month") % {
                "kind": kind,
                "each": _tenge(row.per_transaction_tiyn),
                "day": _tenge(row.daily_tiyn),
                "month": _tenge(row.monthly_tiyn),
            }
        limits.setdefault(row.tier, []).append(text)
    return [
        {"tier": tier, "description": text, "limits": "; ".join(limits.get(tier, []))}
        for tier, text in sorted(TIER_DESCRIPTIONS.items())
    ]


def _tenge(tiyn: int) -> str:
    return f"{tiyn // 100:,} KZT".replace(",", "\u202f")
