"""Custody state: wallets, deposit addresses, deposits, withdrawals and their batches.

Amounts are integer satoshis (``_sats``). Rows change only through ``custody.services``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, Hold, Transfer


class WalletKind(models.TextChoices):
    HOT = "hot"
    COLD = "cold"
    WATCH = "watch"
    SIGNER = "signer"


class Wallet(models.Model):
    """A bitcoind descriptor wallet the bank uses (hot keys on the node, cold watch-only)."""

    name = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=8, choices=WalletKind.choices)
    # Master key fingerprints of the wallet's descriptors (filled for cold wallets).
    fingerprints = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class AddressPurpose(models.TextChoices):
    CUSTOMER = "customer"
    INVOICE = "invoice"
    # The bank's own addresses (e.g. cold-to-hot moves): recorded, never credited.
    INTERNAL = "internal"


class DepositAddress(models.Model):
    """An address of the hot wallet; money paid to it is credited to ``account``."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="deposit_addresses")
    address = models.CharField(max_length=90, unique=True)
    purpose = models.CharField(
        max_length=8, choices=AddressPurpose.choices, default=AddressPurpose.CUSTOMER
    )
    # None: settings.DEPOSIT_CONFIRMATIONS. Invoices set it from the merchant's speed policy.
    required_confirmations = models.PositiveSmallIntegerField(null=True, blank=True)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("deposit address")
        verbose_name_plural = _("deposit addresses")
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "created_at"])]

    def __str__(self) -> str:
        return self.address

    def confirmations_needed(self) -> int:
        if self.required_confirmations is not None:
            return int(self.required_confirmations)
        return int(settings.DEPOSIT_CONFIRMATIONS)


class ChainCursor(models.Model):
    """Where a chain scanner (``listsinceblock``) resumes: a block lagging the tip."""

    name = models.CharField(max_length=32, unique=True)
    block_hash = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("chain cursor")
        verbose_name_plural = _("chain cursors")

    def __str__(self) -> str:
        return f"{self.name} @ {self.block_hash or 'genesis'}"


class DepositStatus(models.TextChoices):
    PENDING = "pending"  # seen, waiting for confirmations
    CREDITED = "credited"  # credited to the address's account
    SUSPENSE = "suspense"  # credited to the suspense account, case opened
    DUST = "dust"  # below DEPOSIT_MIN_SATS: recorded, never credited
    INTERNAL = "internal"  # the bank paying itself: recorded, never credited
    REORGED = "reorged"  # dropped by a reorg (reversed if it had been credited)


class SuspenseReason(models.TextChoices):
    """Why a deposit was booked to suspense instead of its address's account."""

    UNKNOWN_ADDRESS = "unknown_address"
    ACCOUNT_FROZEN = "account_frozen"
    ACCOUNT_CLOSED = "account_closed"
    SANCTIONED_SOURCE = "sanctioned_source"
    CREDIT_REFUSED = "credit_refused"  # the ledger refused the credit (e.g. frozen meanwhile)


class Deposit(models.Model):
    """One transaction output paid to a bank address, recorded once."""

    txid = models.CharField(max_length=64)
    vout = models.PositiveIntegerField()
    address = models.CharField(max_length=90)
    deposit_address = models.ForeignKey(
        DepositAddress, null=True, blank=True, on_delete=models.PROTECT, related_name="deposits"
    )
    amount_sats = models.BigIntegerField()
    status = models.CharField(
        max_length=8, choices=DepositStatus.choices, default=DepositStatus.PENDING
    )
    # Confirmations as the node last reported them; negative means conflicted.
    confirmations = models.IntegerField(default=0)
    block_hash = models.CharField(max_length=64, blank=True)
    transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # How many times a credit of this output was reversed (re-credits use a new key).
    reversals = models.PositiveSmallIntegerField(default=0)
    suspense_reason = models.CharField(max_length=20, choices=SuspenseReason.choices, blank=True)
    # Credited but below its required confirmations (0-conf policy, or a reorg took them):
    # the amount is held on the account until the chain decides (custody/services/unconfirm.py).
    unconfirmed = models.BooleanField(default=False)
    confirmation_hold = models.ForeignKey(
        Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A reorg un-confirmed money already spent: the receivable booked from suspense.
    shortfall_transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # When it first reached its required confirmations while credited.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # Credited, then dropped from the mempool with no conflict: what the last rebroadcast
    # of its raw transaction gave (custody/services/evicted.py), and when.
    rebroadcast_result = models.CharField(max_length=200, blank=True)
    rebroadcast_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(auto_now_add=True)
    credited_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("deposit")
        verbose_name_plural = _("deposits")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["txid", "vout"], name="deposit_unique_outpoint"),
            models.CheckConstraint(name="deposit_amount_positive", condition=Q(amount_sats__gt=0)),
        ]
        indexes = [models.Index(fields=["status", "id"])]

    def __str__(self) -> str:
        return f"{self.txid}:{self.vout} {self.amount_sats} sats {self.status}"


class ListenerCall(models.Model):
    """Outbox: a deposit listener owes a call for a deposit (written with the change).

    A row is inserted in the transaction that changed the deposit, and deleted in the
    transaction in which the listener ran and succeeded, so every change is seen at
    least once and the listener's own effects commit with the deletion: exactly once
    in effect (listeners read the deposit's current state, so a repeat is a no-op).
    Rows are only ever inserted by writers, never updated, so a writer never waits on a
    row a running listener has locked.
    """

    deposit = models.ForeignKey(Deposit, on_delete=models.CASCADE, related_name="+")
    listener = models.CharField(max_length=200)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("listener call")
        verbose_name_plural = _("listener calls")
        ordering = ["id"]
        indexes = [models.Index(fields=["next_at", "id"], name="listener_call_due")]

    def __str__(self) -> str:
        return f"{self.listener} for deposit {self.deposit_id}"


class WithdrawalStatus(models.TextChoices):
    REQUESTED = "requested"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    BATCHED = "batched"
    BROADCAST = "broadcast"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"


class BatchStatus(models.TextChoices):
    SIGNED = "signed"  # committed with its raw transaction, not yet accepted by the node
    BROADCAST = "broadcast"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class WithdrawalBatch(models.Model):
    """One signed transaction paying several withdrawals, stored before it is broadcast."""

    txid = models.CharField(max_length=64, unique=True)
    raw_tx = models.TextField()
    status = models.CharField(max_length=9, choices=BatchStatus.choices, default=BatchStatus.SIGNED)
    fee_sats = models.BigIntegerField(help_text=_("miner fee paid by the bank"))
    fee_rate_sat_vb = models.PositiveIntegerField()
    vsize = models.PositiveIntegerField()
    # Outpoints spent, [[txid, vout], ...]: locked on the node while unbroadcast.
    inputs = models.JSONField(default=list)
    confirmations = models.IntegerField(default=0)
    broadcast_attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    fee_transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    broadcast_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("withdrawal batch")
        verbose_name_plural = _("withdrawal batches")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(name="batch_fee_nonnegative", condition=Q(fee_sats__gte=0)),
        ]
        indexes = [models.Index(fields=["status", "id"])]

    def __str__(self) -> str:
        return f"batch {self.pk} {self.txid[:12]} {self.status}"


class Withdrawal(models.Model):
    """A customer's request to send bitcoin out, from request to confirmation."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="withdrawals")
    address = models.CharField(max_length=90)
    amount_sats = models.BigIntegerField()
    fee_sats = models.BigIntegerField(help_text=_("the bank's withdrawal fee charged"))
    status = models.CharField(
        max_length=14, choices=WithdrawalStatus.choices, default=WithdrawalStatus.REQUESTED
    )
    hold = models.OneToOneField(
        Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="withdrawal"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawals"
    )
    idempotency_key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    travel_rule = models.JSONField(null=True, blank=True)
    screening = models.JSONField(default=dict, blank=True)
    batch = models.ForeignKey(
        WithdrawalBatch, null=True, blank=True, on_delete=models.PROTECT,
        related_name="withdrawals",
    )  # fmt: skip
    vout = models.PositiveIntegerField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("withdrawal")
        verbose_name_plural = _("withdrawals")
        ordering = ["id"]
        permissions = [("review_withdrawal", "Can approve or reject withdrawals")]
        constraints = [
            models.UniqueConstraint(
                fields=["requested_by", "idempotency_key"], name="withdrawal_key_per_user"
            ),
            models.CheckConstraint(
                name="withdrawal_amount_positive", condition=Q(amount_sats__gt=0)
            ),
            models.CheckConstraint(name="withdrawal_fee_nonnegative", condition=Q(fee_sats__gte=0)),
            models.CheckConstraint(
                name="withdrawal_batched_has_batch",
                condition=~Q(status__in=["batched", "broadcast", "confirmed"])
                | Q(batch__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "id"]),
            models.Index(fields=["account", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"W{self.pk} {self.amount_sats} sats -> {self.address} {self.status}"

    @property
    def total_sats(self) -> int:
        return self.amount_sats + self.fee_sats


class WithdrawalAddress(models.Model):
    """A bitcoin address a customer saved to withdraw to.

    Adding one needs a second factor; it can be used only from ``usable_from``
    (a cool-down, so a stolen session cannot add and drain at once).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdrawal_addresses"
    )
    label = models.CharField(max_length=60)
    address = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    usable_from = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("withdrawal address")
        verbose_name_plural = _("withdrawal addresses")
        db_table = "accounts_withdrawaladdress"  # kept from when the ledger app held it
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "address"],
                condition=Q(removed_at__isnull=True),
                name="withdrawal_address_unique_active_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} {self.address}"


class FeeBumpStatus(models.TextChoices):
    REQUESTED = "requested"  # waiting for a second staff member (above the four-eyes bound)
    APPROVED = "approved"  # to be built
    SIGNED = "signed"  # child committed with its raw transaction, not yet sent
    BROADCAST = "broadcast"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class FeeBump(models.Model):
    """A child-pays-for-parent transaction that speeds up a stuck withdrawal batch.

    The child spends the batch's change back to the hot wallet with a fee that lifts the
    package to the target rate. The batch's own txid, outputs and withdrawals never
    change, so no payment is made twice and the customer's state stays as it was.
    """

    batch = models.ForeignKey(WithdrawalBatch, on_delete=models.PROTECT, related_name="fee_bumps")
    status = models.CharField(
        max_length=9, choices=FeeBumpStatus.choices, default=FeeBumpStatus.APPROVED
    )
    fee_rate_sat_vb = models.PositiveIntegerField(help_text=_("target rate of batch + child"))
    fee_sats = models.BigIntegerField(default=0, help_text=_("the child's miner fee"))
    txid = models.CharField(max_length=64, blank=True)
    raw_tx = models.TextField(blank=True)
    inputs = models.JSONField(default=list)
    confirmations = models.IntegerField(default=0)
    broadcast_attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    fee_transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    broadcast_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("fee bump")
        verbose_name_plural = _("fee bumps")
        ordering = ["id"]
        permissions = [("bump_fee", "Speed up a stuck withdrawal batch (CPFP)")]
        constraints = [
            models.CheckConstraint(name="fee_bump_fee_nonnegative", condition=Q(fee_sats__gte=0)),
            models.UniqueConstraint(
                fields=["batch"],
                condition=Q(status__in=["requested", "approved", "signed", "broadcast"]),
                name="fee_bump_one_open_per_batch",
            ),
        ]

    def __str__(self) -> str:
        return f"fee bump {self.pk} of batch {self.batch_id} {self.status}"
