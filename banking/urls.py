"""Web banking routes."""

from django.urls import URLPattern, URLResolver, path

from banking.views import (
    addresses,
    auth,
    custody,
    dashboard,
    exchange,
    identity,
    notifications,
    reserves,
    security,
    statements,
    transfers,
)

urlpatterns: list[URLPattern | URLResolver] = [
    path("", dashboard.dashboard, name="dashboard"),
    # Proof of reserves (treasury's snapshots, shown to the customer).
    path("reserves/", reserves.reserves_page, name="reserves"),
    path("reserves/proof/", reserves.reserves_proof, name="reserves_proof"),
    # Sign up, log in, password reset.
    path("signup/", auth.signup, name="signup"),
    path("signup/done/", auth.signup_done, name="signup_done"),
    path("confirm-email/resend/", auth.confirmation_resend, name="confirmation_resend"),
    path("confirm-email/<str:uidb64>/<str:token>/", auth.confirm_email, name="confirm_email"),
    path("login/", auth.login_view, name="login"),
    path("login/verify/", auth.login_verify, name="login_verify"),
    path("logout/", auth.logout_view, name="logout"),
    path("locked/", auth.locked_out, name="locked_out"),
    path("password-reset/", auth.password_reset, name="password_reset"),
    path("password-reset/sent/", auth.password_reset_done, name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth.password_reset_complete, name="password_reset_complete"),
    # Security settings.
    path("security/", security.security, name="security"),
    path("security/password/", auth.password_change, name="password_change"),
    path("security/2fa/setup/", security.twofactor_setup, name="twofactor_setup"),
    path("security/2fa/backup-codes/", security.backup_codes_new, name="backup_codes_new"),
    path("security/2fa/disable/", security.twofactor_off, name="twofactor_off"),
    path("security/sessions/<int:session_id>/end/", security.session_end, name="session_end"),
    path("security/sessions/end-others/", security.sessions_end_others, name="sessions_end_others"),
    # Identity.
    path("identity/", identity.identity, name="identity"),
    # Money.
    path("transfers/new/", transfers.transfer_new, name="transfer_new"),
    path("transfers/<int:transfer_id>/", transfers.transfer_detail, name="transfer_detail"),
    path("exchange/", exchange.exchange, name="exchange"),
    path("exchange/quotes/<int:quote_id>/", exchange.quote_detail, name="quote_detail"),
    path("exchange/quotes/<int:quote_id>/accept/", exchange.quote_accept, name="quote_accept"),
    path("statement/", statements.statement, name="statement"),
    path("notifications/", notifications.notifications, name="notifications"),
    path("addresses/", addresses.addresses, name="addresses"),
    path("addresses/<int:address_id>/remove/", addresses.address_remove, name="address_remove"),
]

urlpatterns += [
    path("deposit/", custody.deposit, name="deposit"),
    path("withdraw/", custody.withdraw, name="withdraw"),
    path("withdrawals/<int:withdrawal_id>/", custody.withdrawal_detail, name="withdrawal_detail"),
    path(
        "withdrawals/<int:withdrawal_id>/cancel/",
        custody.withdrawal_cancel_view,
        name="withdrawal_cancel",
    ),
]
