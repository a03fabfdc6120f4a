"""Treasury state: cold descriptors, cold-to-hot moves, sweeps, reconciliation, reserves.

Amounts are integer satoshis (``_sats``). Rows change only through the treasury services.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, Transfer
from custody.models import Wallet


class ColdDescriptor(models.Model):
    """A public descriptor imported into the watch-only cold wallet (never a private key)."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="descriptors")
    descriptor = models.TextField(help_text=_("public descriptor with its checksum"))
    checksum = models.CharField(max_length=8)
    fingerprint = models.CharField(max_length=8, help_text=_("master key fingerprint (hex)"))
    internal = models.BooleanField(default=False, help_text=_("change branch"))
    range_end = models.PositiveIntegerField()
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Pinning (four eyes): proposed by ``imported_by``, approved by another person. Sweeps go
    # only to approved descriptors; ``imported_at`` is when the node's wallet learnt it.
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approval = models.ForeignKey(
        "compliance.ApprovalRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    imported_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("cold wallet descriptor")
        verbose_name_plural = _("cold wallet descriptors")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["wallet", "checksum"], name="cold_descriptor_once"),
            models.CheckConstraint(
                name="cold_descriptor_two_people",
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("imported_by")),
            ),
        ]

    def __str__(self) -> str:
        branch = "change" if self.internal else "receive"
        pinned = "" if self.approved_by_id else " (not approved)"
        return f"[{self.fingerprint}] {branch} #{self.checksum}{pinned}"


class ColdMoveStatus(models.TextChoices):
    REQUESTED = "requested"  # waiting for the first approval
    APPROVING = "approving"  # one approval, waiting for a second staff member
    APPROVED = "approved"  # two approvals: the PSBT may be built
    PSBT_READY = "psbt_ready"  # built from the watch-only wallet; download, sign offline
    SIGNED = "signed"  # signed PSBT checked, final tx committed, not yet accepted
    BROADCAST = "broadcast"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    FAILED = "failed"


class ColdMove(models.Model):
    """A request to move bitcoin from the cold wallet to the hot wallet (four eyes)."""

    amount_sats = models.BigIntegerField()
    reason = models.CharField(max_length=500)
    status = models.CharField(
        max_length=10, choices=ColdMoveStatus.choices, default=ColdMoveStatus.REQUESTED
    )
    # None: raised by the rebalancer (the hot wallet fell below its minimum).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by_1 = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_by_2 = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approval = models.ForeignKey(
        "compliance.ApprovalRequest", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    hot_address = models.CharField(max_length=90, blank=True)
    psbt_unsigned = models.TextField(blank=True)
    psbt_signed = models.TextField(blank=True)
    # Outpoints the built PSBT spends, [[txid, vout], ...]; the signed one must match.
    inputs = models.JSONField(default=list, blank=True)
    change_address = models.CharField(max_length=90, blank=True)
    fee_sats = models.BigIntegerField(null=True, blank=True)
    raw_tx = models.TextField(blank=True)
    txid = models.CharField(max_length=64, null=True, blank=True, unique=True)
    confirmations = models.IntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    transit_transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    fee_transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    settle_transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    broadcast_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("cold-to-hot move")
        verbose_name_plural = _("cold-to-hot moves")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                name="cold_move_amount_positive", condition=Q(amount_sats__gt=0)
            ),
            models.CheckConstraint(
                name="cold_move_approvers_differ",
                condition=Q(approved_by_1__isnull=True)
                | Q(approved_by_2__isnull=True)
                | ~Q(approved_by_1=F("approved_by_2")),
            ),
            models.CheckConstraint(
                name="cold_move_requester_not_approver",
                condition=Q(requested_by__isnull=True)
                | (
                    (Q(approved_by_1__isnull=True) | ~Q(approved_by_1=F("requested_by")))
                    & (Q(approved_by_2__isnull=True) | ~Q(approved_by_2=F("requested_by")))
                ),
            ),
            models.CheckConstraint(
                name="cold_move_built_has_two_approvals",
                condition=Q(status__in=["requested", "approving", "rejected"])
                | (Q(approved_by_1__isnull=False) & Q(approved_by_2__isnull=False)),
            ),
        ]
        indexes = [models.Index(fields=["status", "id"])]

    def __str__(self) -> str:
        return f"cold move {self.pk}: {self.amount_sats} sats {self.status}"


class SweepStatus(models.TextChoices):
    SIGNED = "signed"  # committed with its raw transaction, not yet accepted by the node
    BROADCAST = "broadcast"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class Sweep(models.Model):
    """An automatic hot-to-cold move of the hot wallet's excess."""

    amount_sats = models.BigIntegerField()
    cold_address = models.CharField(max_length=90)
    txid = models.CharField(max_length=64, unique=True)
    raw_tx = models.TextField()
    fee_sats = models.BigIntegerField()
    inputs = models.JSONField(default=list)
    status = models.CharField(max_length=9, choices=SweepStatus.choices, default=SweepStatus.SIGNED)
    confirmations = models.IntegerField(default=0)
    broadcast_attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    transit_transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    fee_transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    settle_transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    broadcast_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sweep to cold")
        verbose_name_plural = _("sweeps to cold")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(name="sweep_amount_positive", condition=Q(amount_sats__gt=0)),
            models.CheckConstraint(name="sweep_fee_nonnegative", condition=Q(fee_sats__gte=0)),
        ]
        indexes = [models.Index(fields=["status", "id"])]

    def __str__(self) -> str:
        return f"sweep {self.pk}: {self.amount_sats} sats {self.status}"


class RebalanceAlert(models.Model):
    """An admin-visible row: the hot wallet fell below its minimum (a cold move was raised)."""

    hot_balance_sats = models.BigIntegerField()
    minimum_sats = models.BigIntegerField()
    cold_move = models.ForeignKey(
        ColdMove, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("rebalance alert")
        verbose_name_plural = _("rebalance alerts")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"hot wallet low: {self.hot_balance_sats} < {self.minimum_sats} sats"


class ReconciliationStatus(models.TextChoices):
    OK = "ok"
    MISMATCH = "mismatch"


class ReconciliationRun(models.Model):
    """One comparison of the node's wallets with the ledger, kept as history."""

    status = models.CharField(max_length=8, choices=ReconciliationStatus.choices)
    trigger = models.CharField(max_length=16, default="periodic")
    figures = models.JSONField(default=dict)
    differences = models.JSONField(default=list)
    unknown_transactions = models.JSONField(default=list)
    # listsinceblock cursors for the next run, per wallet name.
    cursors = models.JSONField(default=dict)
    last_transfer_id = models.BigIntegerField(default=0)
    case = models.ForeignKey(
        "compliance.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"reconciliation {self.pk} {self.status}"


class ReserveSnapshot(models.Model):
    """Proof of reserves at one moment: the liabilities tree's root and the bank's coins."""

    root_hash = models.CharField(max_length=64)
    total_sats = models.BigIntegerField(help_text=_("sum of every customer leaf"))
    leaf_count = models.PositiveIntegerField()
    # [{"wallet", "address", "amount_sats"}, ...] from listunspent on hot and cold.
    assets = models.JSONField(default=list)
    assets_total_sats = models.BigIntegerField()
    block_height = models.PositiveIntegerField()
    block_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("proof-of-reserves snapshot")
        verbose_name_plural = _("proof-of-reserves snapshots")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                name="snapshot_total_nonnegative", condition=Q(total_sats__gte=0)
            ),
        ]

    def __str__(self) -> str:
        return f"snapshot {self.pk} root {self.root_hash[:12]} total {self.total_sats}"


class ReserveLeaf(models.Model):
    """One customer account's leaf in a snapshot (its salt stays private to the customer)."""

    snapshot = models.ForeignKey(ReserveSnapshot, on_delete=models.CASCADE, related_name="leaves")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()
    salt = models.CharField(max_length=64)
    balance_sats = models.BigIntegerField()

    class Meta:
        verbose_name = _("proof-of-reserves leaf")
        verbose_name_plural = _("proof-of-reserves leaves")
        ordering = ["snapshot", "position"]
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "account"], name="leaf_one_per_account"),
            models.UniqueConstraint(fields=["snapshot", "position"], name="leaf_position_once"),
            models.CheckConstraint(
                name="leaf_balance_nonnegative", condition=Q(balance_sats__gte=0)
            ),
        ]

    def __str__(self) -> str:
        return f"leaf {self.position} of snapshot {self.snapshot_id}"
