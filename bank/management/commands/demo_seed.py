"""``manage.py demo_seed``: demo staff, customers and a merchant, through the services.

Development only (refuses production). Idempotent: a second run keeps what
exists. Customer bitcoin arrives the real way: a ``demo-funder`` wallet on
the regtest node mines coins and pays the customers' deposit addresses, and
the deposit scanner credits them. Logins (with fresh random passwords and the
staff TOTP secrets) are written to ``var/demo-logins.txt``.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Identity, KycStatus, User
from bank.localenv import VAR
from banking.services.kyc import identity_submit
from banking.services.signup import user_signup
from compliance import roles
from compliance.services.approvals import approval_approve
from compliance.services.kyc import identity_approve_propose
from core.errors import ServiceUnavailable
from custody.node import node_client
from custody.services.addresses import deposit_address_new
from custody.services.deposits import deposit_scan
from custody.services.wallets import wallet_load_or_create, wallets_setup
from exchange.services import (
    exchange_rate_current,
    exchange_rate_fresh,
    exchange_rate_set,
    pricing_currencies,
    pricing_rate_current,
    pricing_rate_fresh,
    pricing_rate_set,
)
from merchants.models import Merchant
from merchants.services.keys import SCOPES, api_key_issue
from merchants.services.merchants import merchant_onboard

STAFF = [
    ("admin@alatau.kz", None, True),
    ("officer@alatau.kz", roles.COMPLIANCE_OFFICER, False),
    ("officer2@alatau.kz", roles.COMPLIANCE_OFFICER, False),
    ("operator@alatau.kz", roles.CUSTODY_OPERATOR, False),
    ("operator2@alatau.kz", roles.CUSTODY_OPERATOR, False),
    ("support@alatau.kz", roles.SUPPORT, False),
    ("auditor@alatau.kz", roles.AUDITOR, False),
]
# (email, full name, IIN (valid check digit), BTC to deposit in sats)
CUSTOMERS = [
    ("alice@example.kz", "Aigerim Nurlanovna", "900101400013", 50_000_000),
    ("bob@example.kz", "Bolat Serikov", "850315300019", 20_000_000),
]
# Fiat pricing rates, in cents per BTC, in line with the demo's BTC/KZT rate.
DEMO_PRICING_RATES = {"USD": 900_00, "EUR": 833_00}
MERCHANT_OWNER = "shop@example.kz"
FUNDER = "demo-funder"
# A tiny valid PDF standing in for a scanned identity document.
DEMO_DOCUMENT = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Command(BaseCommand):
    help = "Load demo data (staff with 2FA, KYC'd customers funded on regtest, a merchant)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.ALATAU_ENV not in ("development", "test"):
            raise CommandError("demo_seed runs only with ALATAU_ENV=development")
        logins: list[str] = []
        password = self._password()
        officer = self._staff(password, logins)
        current = exchange_rate_current()
        try:
            exchange_rate_fresh()
        except ServiceUnavailable:
            # 450,000 KZT per BTC mid, 1% spread (or the last one again, so a demo left for a
            # day prices again: a rate older than EXCHANGE_RATE_MAX_AGE_S prices nothing).
            mid = current.mid_tiyn_per_btc if current else 450_000 * 100 * 100
            exchange_rate_set(mid_tiyn_per_btc=mid, spread_bp=100, actor=officer)
        self._pricing_rates(officer)
        wallets_setup()
        self._cold_wallet(User.objects.get(email="operator@alatau.kz"))
        customers = [self._customer(password, officer, *spec) for spec in CUSTOMERS]
        self._fund(customers)
        for customer, _sats in customers:
            self._customer_security(customer, logins)
        merchant_line = self._merchant(password, officer)
        logins.append(
            f"  customers  {', '.join(c.email for c, _ in customers)}  password: {password}"
        )
        logins.append(merchant_line)
        text = "\n".join(logins) + "\n"
        (VAR / "demo-logins.txt").write_text(text)
        self.stdout.write(text)

    def _pricing_rates(self, officer: User) -> None:
        """Set the USD and EUR pricing rates (through the service), so USD/EUR invoices price.

        In line with the demo's 450,000 KZT per BTC (about 500 KZT per USD, 540 per EUR);
        a rate that is out of date is set again at its last value, as the BTC/KZT one is.
        """
        for currency, minor_per_btc in DEMO_PRICING_RATES.items():
            if currency not in pricing_currencies():
                continue  # not offered in this configuration (PRICING_FIAT_CURRENCIES)
            try:
                pricing_rate_fresh(currency=currency)
            except ServiceUnavailable:
                current = pricing_rate_current(currency=currency)
                pricing_rate_set(
                    currency=currency,
                    minor_per_btc=current.minor_per_btc if current else minor_per_btc,
                    actor=officer,
                )

    def _cold_wallet(self, operator: User) -> None:
        """Load the watch-only cold wallet from the development stand-in signer's xpubs."""
        from compliance.services import approval_approve
        from treasury.models import ColdDescriptor
        from treasury.services.cold import cold_signer_create, cold_wallet_setup
        from treasury.services.descriptors import cold_descriptors_propose

        cold_wallet_setup()
        if not ColdDescriptor.objects.filter(approved_by__isnull=False).exists():
            # Four eyes, as in production: one operator proposes, the other approves.
            proposal = cold_descriptors_propose(descriptors=cold_signer_create(), actor=operator)
            second = User.objects.get(email="operator2@alatau.kz")
            approval_approve(actor=second, request_id=proposal.pk, reason="demo key ceremony")

    def _password(self) -> str:
        path = VAR / "demo-password.txt"
        VAR.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_urlsafe(12))
            path.chmod(0o600)
        return path.read_text().strip()

    def _staff(self, password: str, logins: list[str]) -> User:
        first_officer: User | None = None
        for email, role, superuser in STAFF:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email=email, password=password, is_staff=True, is_superuser=superuser,
                    email_verified_at=timezone.now(),
                )  # fmt: skip
            if role:
                user.groups.add(Group.objects.get(name=role))
            device = TOTPDevice.objects.filter(user=user).first() or TOTPDevice.objects.create(
                user=user, name="demo", confirmed=True
            )
            secret = base64.b32encode(bytes.fromhex(device.key)).decode()
            logins.append(f"  staff      {email:22} {role or 'superuser':20} TOTP secret {secret}")
            if role == roles.COMPLIANCE_OFFICER and first_officer is None:
                first_officer = user
        logins.insert(
            0, f"  staff password: {password}  (admin 2FA code: manage.py demo_otp EMAIL)"
        )
        assert first_officer is not None
        return first_officer

    def _customer(
        self, password: str, officer: User, email: str, name: str, iin: str, sats: int
    ) -> tuple[User, int]:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = user_signup(email=email, password=password)
            User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
        identity = Identity.objects.filter(user=user).first()
        if identity is None or identity.status == KycStatus.NONE:
            identity_submit(
                user=user, full_name=name, iin=iin, address="Al-Farabi Ave 1, Almaty",
                date_of_birth=_iin_birth_date(iin),
                document=SimpleUploadedFile("passport.pdf", DEMO_DOCUMENT, "application/pdf"),
            )  # fmt: skip
            identity = Identity.objects.get(user=user)
        if identity.status == KycStatus.SUBMITTED:
            # Tier 2 is four eyes: officer proposes, officer2 approves.
            proposal = identity_approve_propose(
                actor=officer, identity_id=identity.pk, tier=2, reason="demo data"
            )
            second = User.objects.get(email="officer2@alatau.kz")
            approval_approve(actor=second, request_id=proposal.pk, reason="demo data")
        return user, sats

    def _customer_security(self, user: User, logins: list[str]) -> None:
        """Give a demo customer an authenticator app and a withdrawal address ready to use.

        So a newcomer can watch a withdrawal move through its states at once: the
        address is put past its cool-down here (demo data only; real addresses wait).
        """
        from django_otp.oath import totp

        from accounts.services.twofactor import totp_device_confirm, totp_device_start
        from custody.models import WithdrawalAddress
        from custody.services.withdrawal_addresses import withdrawal_address_add

        def code(device: TOTPDevice, steps_ahead: int) -> str:
            t0 = device.t0 - steps_ahead * device.step
            return f"{totp(device.bin_key, step=device.step, t0=t0, digits=device.digits):06d}"

        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            started = totp_device_start(user=user)
            totp_device_confirm(user=user, device_id=started.pk, code=code(started, 0))
            device = TOTPDevice.objects.get(pk=started.pk)
        secret = base64.b32encode(bytes.fromhex(device.key)).decode()
        logins.append(f"  customer   {user.email:22} 2FA (TOTP) secret {secret}")
        if not WithdrawalAddress.objects.filter(user=user, removed_at__isnull=True).exists():
            # A code one step ahead: the confirming code above may not be used twice.
            client = node_client()
            wallet_load_or_create(client=client, name=FUNDER)
            address = client.wallet(FUNDER).call("getnewaddress")
            saved = withdrawal_address_add(
                user=user, label="Demo wallet", address=address, otp_code=code(device, 1)
            )
            WithdrawalAddress.objects.filter(pk=saved.pk).update(usable_from=timezone.now())

    def _fund(self, customers: list[tuple[User, int]]) -> None:
        """Pay each unfunded customer from the funder wallet and let the scanner credit it."""
        from custody.models import Deposit

        todo = [
            (u, s)
            for u, s in customers
            if not Deposit.objects.filter(deposit_address__account__owner=u).exists()
        ]
        if not todo:
            return
        client = node_client()
        # The funder stands for the outside world paying in; it is not a bank wallet.
        wallet_load_or_create(client=client, name=FUNDER)
        funder = client.wallet(FUNDER)
        mine_to = funder.call("getnewaddress")
        if funder.balance_sats() < sum(s for _, s in todo) + 1_000_000:
            client.call("generatetoaddress", 101, mine_to)
        for user, sats in todo:
            account = user.ledger_accounts.get(currency="BTC", kind="customer")
            address = deposit_address_new(account=account, actor=user)
            funder.send_to_address(address.address, sats)
        client.call("generatetoaddress", settings.DEPOSIT_CONFIRMATIONS, mine_to)
        report = deposit_scan()
        self.stdout.write(f"regtest deposits: {report}")

    def _merchant(self, password: str, officer: User) -> str:
        owner = User.objects.filter(email=MERCHANT_OWNER).first()
        if owner is None:
            owner = user_signup(email=MERCHANT_OWNER, password=password)
            User.objects.filter(pk=owner.pk).update(email_verified_at=timezone.now())
        merchant = Merchant.objects.filter(owner=owner).first()
        if merchant is not None:
            return f"  merchant   {MERCHANT_OWNER} store {merchant.store_id} (API key shown at first seed)"
        merchant = merchant_onboard(name="Alatau Coffee", owner=owner, actor=officer, with_kzt=True)
        _, token = api_key_issue(merchant=merchant, label="demo", scopes=list(SCOPES), actor=owner)
        return (
            f"  merchant   {MERCHANT_OWNER} password: {password} store {merchant.store_id}\n"
            f"             API key (Authorization: token ...): {token}"
        )


def _iin_birth_date(iin: str) -> dt.date:
    century = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}[iin[6]]
    return dt.date(century + int(iin[:2]), int(iin[2:4]), int(iin[4:6]))
