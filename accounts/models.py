"""Customers and the double-entry ledger.

Amounts are integers of minor units (satoshi for BTC, tiyn for KZT), named
with ``_minor`` because one account table holds both currencies.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.money import Currency, format_amount


class EmailUserManager(UserManager["User"]):
    """Users sign in with their email address; there is no username."""

    use_in_migrations = True

    def _create_user_object(self, username, email, password, **extra_fields):
        email = self.normalize_email(email or username)
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        return user

    def create_user(self, email=None, password=None, **extra_fields):  # type: ignore[override]
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        user = self._create_user_object(None, email, password, **extra_fields)
        user.save(using=self._db)
        return user

    def create_superuser(self, email=None, password=None, **extra_fields):  # type: ignore[override]
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in: customer, merchant user or staff member."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)

    objects = EmailUserManager()  # type: ignore[misc]

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email


class AccountKind(models.TextChoices):
    CUSTOMER = "customer"
    MERCHANT = "merchant"
    CUSTODY_HOT = "custody_hot"
    CUSTODY_COLD = "custody_cold"
    IN_TRANSIT = "in_transit"
    FEES = "fees"
    EXCHANGE = "exchange"
    SUSPENSE = "suspense"
    EXTERNAL = "external"


# Kinds whose balance is someone else's money and so may never go negative.
OWNED_KINDS = (AccountKind.CUSTOMER, AccountKind.MERCHANT)


class AccountStatus(models.TextChoices):
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


class Account(models.Model):
    """A ledger account in one currency. Balances change only through transfers."""

    number = models.CharField(max_length=20, unique=True, help_text=_("Kazakh IBAN, no spaces"))
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    currency = models.CharField(max_length=3, choices=[(c.value, c.value) for c in Currency])
    kind = models.CharField(max_length=16, choices=AccountKind.choices)
    status = models.CharField(
        max_length=8, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    name = models.CharField(max_length=120, blank=True)
    posted_minor = models.BigIntegerField(default=0)
    held_minor = models.BigIntegerField(default=0)
    version = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                name="account_owned_available_nonnegative",
                condition=~Q(kind__in=OWNED_KINDS) | Q(posted_minor__gte=F("held_minor")),
            ),
            models.CheckConstraint(name="account_held_nonnegative", condition=Q(held_minor__gte=0)),
            models.CheckConstraint(
                name="account_owned_has_owner",
                condition=~Q(kind__in=OWNED_KINDS) | Q(owner__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"],
                condition=Q(owner__isnull=True),
                name="account_one_system_account_per_kind_currency",
            ),
        ]
        indexes = [models.Index(fields=["owner", "currency"])]

    def __str__(self) -> str:
        return f"{self.number} {self.kind} {self.currency}"

    @property
    def available_minor(self) -> int:
        return self.posted_minor - self.held_minor

    @property
    def number_formatted(self) -> str:
        return " ".join(self.number[i : i + 4] for i in range(0, len(self.number), 4))

    def format(self, minor: int) -> str:
        return format_amount(minor, self.currency, with_code=True)


class TransferCode(models.TextChoices):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    INTERNAL = "internal"
    PAYMENT = "payment"
    FEE = "fee"
    EXCHANGE = "exchange"
    SWEEP = "sweep"
    REVERSAL = "reversal"
    ADJUSTMENT = "adjustment"
    REFUND = "refund"


class Transfer(models.Model):
    """An immutable, balanced movement: debit one account, credit another.

    A PostgreSQL trigger (migration 0002) refuses UPDATE and DELETE. A mistake
    is corrected by a reversal transfer pointing at the original. The table is
    partitioned by month of ``created_at`` (migration 0012, ``accounts/partitions.py``):
    the idempotency key's and ``reverses``' uniqueness, and the target of every foreign
    key to a transfer, are in ``TransferKey``.
    """

    group_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    # Indexed by the (account, id) pairs in Meta: a single-column index would be a copy,
    # and every index is paid on the hot insert path. No foreign key constraint: a
    # statement trigger checks the accounts of every insert at once, and accounts are
    # never deleted (migration 0013, ``accounts/references.py``).
    debit_account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="debits",
        db_index=False,
        db_constraint=False,
    )
    credit_account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="credits",
        db_index=False,
        db_constraint=False,
    )
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    code = models.CharField(max_length=16, choices=TransferCode.choices)
    source_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, db_index=False
    )
    source_id = models.CharField(max_length=64, blank=True)
    # Looked up only with the idempotency key, through the unique index in Meta.
    initiator = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    memo = models.CharField(max_length=255, blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    # KZT value at the time of the movement (compliance limits, tax statements).
    kzt_value_tiyn = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                name="transfer_amount_positive", condition=Q(amount_minor__gt=0)
            ),
            models.CheckConstraint(
                name="transfer_two_accounts", condition=~Q(debit_account=F("credit_account"))
            ),
        ]
        indexes = [
            models.Index(fields=["debit_account", "id"]),
            models.Index(fields=["credit_account", "id"]),
            models.Index(fields=["source_type", "source_id"]),
        ]

    def __str__(self) -> str:
        return f"T{self.pk} {self.code} {format_amount(self.amount_minor, self.currency)} {self.currency}"


class TransferKey(models.Model):
    """One row per transfer, in a plain table beside the monthly-partitioned transfers.

    A partitioned table's unique keys must contain its partition key (``created_at``), so
    what must be unique across every month lives here (``accounts/partitions.py``): the
    idempotency key per initiator, one reversal per transfer, the transfer id itself,
    which every foreign key to a transfer references in the database. A trigger on the
    transfers fills it in the inserting statement; its rows are immutable like theirs.
    """

    id = models.BigIntegerField(primary_key=True)
    created_at = models.DateTimeField()
    initiator = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("transfer key")
        verbose_name_plural = _("transfer keys")
        constraints = [
            models.UniqueConstraint(
                fields=["initiator", "idempotency_key"],
                name="transfer_idempotency_key_per_initiator",
                nulls_distinct=False,
                condition=Q(idempotency_key__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"T{self.pk} key {self.idempotency_key or '-'}"


class HoldStatus(models.TextChoices):
    OPEN = "open"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"


class Hold(models.Model):
    """Funds reserved on an account until posted (in full or part) or voided."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    amount_minor = models.BigIntegerField()
    status = models.CharField(max_length=8, choices=HoldStatus.choices, default=HoldStatus.OPEN)
    posted_minor = models.BigIntegerField(default=0)
    # The transfers made when the hold was posted share this group id.
    group_id = models.UUIDField(null=True, blank=True)
    code = models.CharField(max_length=16, choices=TransferCode.choices)
    memo = models.CharField(max_length=255, blank=True)
    source_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT)
    source_id = models.CharField(max_length=64, blank=True)
    initiator = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("hold")
        verbose_name_plural = _("holds")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(name="hold_amount_positive", condition=Q(amount_minor__gt=0)),
            models.CheckConstraint(
                name="hold_posted_within_amount",
                condition=Q(posted_minor__gte=0) & Q(posted_minor__lte=F("amount_minor")),
            ),
            models.UniqueConstraint(
                fields=["initiator", "idempotency_key"],
                name="hold_idempotency_key_per_initiator",
                nulls_distinct=False,
                condition=Q(idempotency_key__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["account", "status"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self) -> str:
        return f"H{self.pk} {self.status} {self.amount_minor}"


class KycStatus(models.TextChoices):
    NONE = "none"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class Identity(models.Model):
    """A customer's identity (KYC) submission and its review outcome.

    ``tier`` is 0 until compliance approves the identity and picks a tier;
    the limits of each tier live in ``compliance``.
    """

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="identity")
    full_name = models.CharField(max_length=200, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    iin = models.CharField("IIN", max_length=12, blank=True, db_index=True)
    address = models.CharField(max_length=300, blank=True)
    document = models.FileField(upload_to="kyc/%Y/%m/", blank=True)
    status = models.CharField(max_length=10, choices=KycStatus.choices, default=KycStatus.NONE)
    tier = models.PositiveSmallIntegerField(default=0)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        indexes = [models.Index(fields=["status", "submitted_at"])]

    def __str__(self) -> str:
        return f"{self.user} KYC {self.status} tier {self.tier}"


class UserSession(models.Model):
    """One signed-in browser session of a user, so the user can see and end it.

    The session itself lives in Django's database session table; ending a
    session deletes that row (and this one).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="web_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField()

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["-last_seen_at"]
        indexes = [models.Index(fields=["user", "last_seen_at"])]

    def __str__(self) -> str:
        return f"{self.user} session from {self.ip}"
