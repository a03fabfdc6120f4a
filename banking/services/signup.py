"""Sign-up and email confirmation."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts.models import Identity, User
from accounts.services.accounts import account_open
from audit.chain import audit_record
from banking.errors import EmailTaken
from core.errors import ValidationFailed
from core.money import Currency


class EmailConfirmationTokenGenerator(PasswordResetTokenGenerator):
    """Tokens for the confirmation link; they stop working once the email is confirmed."""

    key_salt = "banking.services.signup.EmailConfirmationTokenGenerator"

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        return f"{user.pk}{user.email}{user.email_verified_at}{timestamp}"


email_confirmation_token = EmailConfirmationTokenGenerator()


def email_taken_notice_send(*, email: str, base_url: str) -> None:
    """Tell an address that someone tried to open an account with it (sent after commit).

    The sign-up page answers the same whether or not an email is registered; the
    owner of the address learns the truth by mail.
    """
    login_url = f"{base_url.rstrip('/')}/login/"
    reset_url = f"{base_url.rstrip('/')}/password-reset/"
    body = render_to_string(
        "accounts/email/signup_taken.txt", {"login_url": login_url, "reset_url": reset_url}
    )
    subject = _("Your Alatau Bank account")
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email]))


def user_signup(*, email: str, password: str, client_address: str | None = None) -> User:
    """Create a customer with a BTC and a KZT account; the caller sends the confirmation mail."""
    email = User.objects.normalize_email(email.strip()).lower()
    # The password is judged first, so a weak one is refused alike for every email.
    candidate = User(email=email)
    try:
        password_validation.validate_password(password, candidate)
    except DjangoValidationError as exc:
        raise ValidationFailed("Weak password", fields={"password1": list(exc.messages)}) from None
    if User.objects.filter(email__iexact=email).exists():
        raise EmailTaken(
            "Email already registered",
            fields={"email": [_("An account with this email already exists. Try logging in.")]},
        )
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password)
            Identity.objects.create(user=user)
            for currency in (Currency.BTC, Currency.KZT):
                account_open(owner=user, currency=currency)
            audit_record(actor=user, action="user.signup", obj=user, client_address=client_address)
    except IntegrityError:
        raise EmailTaken(
            "Email already registered",
            fields={"email": [_("An account with this email already exists. Try logging in.")]},
        ) from None
    return user


def email_confirmation_send(*, user: User, base_url: str) -> None:
    """Mail the user a link that confirms their email address (sent after commit)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = email_confirmation_token.make_token(user)
    link = f"{base_url.rstrip('/')}/confirm-email/{uid}/{token}/"
    body = render_to_string("accounts/email/confirm_email.txt", {"user": user, "link": link})
    subject = _("Confirm your email for Alatau Bank")
    transaction.on_commit(
        lambda: send_mail(
            subject,
            body,
            settings.DEFAULT_FROM_EMAIL,
            [user.email],
        )
    )


def email_confirm(*, uidb64: str, token: str) -> User:
    """Mark the email of the link's user as confirmed; raise if the link is bad or used."""
    try:
        user = User.objects.get(pk=int(force_str(urlsafe_base64_decode(uidb64))))
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        raise ValidationFailed(_("This confirmation link is not valid.")) from None
    if user.email_verified_at is not None:
        return user
    if not email_confirmation_token.check_token(user, token):
        raise ValidationFailed(_("This confirmation link is not valid or has expired."))
    with transaction.atomic():
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
        audit_record(actor=user, action="user.email_confirm", obj=user)
    return user
