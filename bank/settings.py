"""Django settings for Alatau, read from the environment.

Every setting has a default that runs on one development machine (PostgreSQL
and Redis on localhost, regtest bitcoind). Production (``DEBUG`` off) refuses
to start with the development secret key. The README's settings table lists
every variable read here.
"""

from __future__ import annotations

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-insecure-alatau-secret-key-change-me"  # noqa: S105 - refused in production
DEV_AUDIT_HMAC_KEY = "dev-insecure-alatau-audit-anchor-key-change-me"

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# A deployment behind TLS sets SECURE_COOKIES=true (the default when DEBUG is off).
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=not DEBUG)
# Safe by default: anything but an explicit "development" or "test" is production.
# `make` writes a `.env` with ALATAU_ENV=development for local runs.
ALATAU_ENV = env.str("ALATAU_ENV", default="production")

if ALATAU_ENV not in ("development", "test"):
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("SECRET_KEY must be set to a long random value in production")
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production")

# The key that seals the audit chain's anchors (audit/anchors.py). It never reaches the
# database, so whoever administers the database cannot forge an anchor.
AUDIT_HMAC_KEY = env.str("AUDIT_HMAC_KEY", default=DEV_AUDIT_HMAC_KEY)
if ALATAU_ENV not in ("development", "test") and (
    AUDIT_HMAC_KEY == DEV_AUDIT_HMAC_KEY or len(AUDIT_HMAC_KEY) < 32
):
    raise ImproperlyConfigured("AUDIT_HMAC_KEY must be set to a long random value in production")
# Where sealed anchors are appended; in production a write-once store outside the database.
AUDIT_ANCHOR_DIR = Path(
    env.str("AUDIT_ANCHOR_DIR", default=str(BASE_DIR / "var" / "audit-anchors"))
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    # Ours, bottom layer first (docs/architecture.md): each imports only those above it here.
    "audit",
    "accounts",
    "exchange",
    "compliance",
    "custody",
    "treasury",
    "merchants",
    "notifications",
    "banking",
    "devtools",
    "bank",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "bank.middleware.RequestLogMiddleware",
    # Web-only middleware (bank/middleware_web.py: the same classes, skipped for /api/v1/).
    "bank.middleware_web.WebSessionMiddleware",
    # After sessions (it reads the language chosen with set_language), before common.
    "bank.middleware_web.WebLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "bank.middleware_web.WebCsrfViewMiddleware",
    "bank.middleware_web.WebAuthenticationMiddleware",
    "bank.middleware_web.WebOTPMiddleware",
    "bank.middleware_web.WebUserSessionMiddleware",
    "bank.middleware_web.WebCustomerLanguageMiddleware",
    "core.db_reads.ReadYourWritesMiddleware",
    "bank.middleware_web.WebMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # AxesMiddleware must be last: it turns lockouts into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "bank.urls"
WSGI_APPLICATION = "bank.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "merchants.web.context.merchant_nav",
                "banking.context.unread_notifications",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/alatau"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The same backend, with the health check (SELECT 1) only on a connection that sat idle
# (core/db_postgres/base.py): a busy API worker skips a round trip per request.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "core.db_postgres"
# Server-side prepared statements only where code asks (execute(prepare=True): the single
# transfer's ledger_transfer call, accounts/services/transfers.py); Django's own queries bind
# client-side and are never prepared. Behind a transaction-mode pooler that cannot keep
# prepared statements, set DB_PREPARED_STATEMENTS=false: the call then runs unprepared.
if env.bool("DB_PREPARED_STATEMENTS", default=True):
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1
DATABASES["default"].setdefault("TEST", {})["NAME"] = env.str(
    "TEST_DATABASE_NAME", default="test_alatau"
)
# A streaming replica for reads that may lag (core/db_reads.py): statements, reports.
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db_url("DATABASE_REPLICA_URL")
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"].setdefault("OPTIONS", {})["connect_timeout"] = 2
DATABASE_ROUTERS = ["core.db_reads.PrimaryReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("CACHE_URL", default="redis://127.0.0.1:6379/1"),
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="alatau"),
        "TIMEOUT": 300,
    }
}

AUTHENTICATION_BACKENDS = [
    # Axes first so a locked-out login never reaches the password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes): lock a username+address after N failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_HOURS", default=1)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/auth/locked_out.html"

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE_S", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = True  # idle timeout, not absolute
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Kazakh, Russian and English. The browser's Accept-Language picks one until the
# customer chooses with the switcher (set_language stores it in a cookie); without
# either, English.
LANGUAGE_CODE = "en"
LANGUAGES = [("kk", "Қазақша"), ("ru", "Русский"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "alatau_language"
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = SECURE_COOKIES
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Almaty")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
# Private uploads (KYC documents): never under STATIC_ROOT, never served directly.
PRIVATE_MEDIA_ROOT = Path(env.str("PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / "var" / "private")))
MEDIA_ROOT = PRIVATE_MEDIA_ROOT

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Alatau Bank <no-reply@alatau.example>")

# /healthz says "degraded" when the node is more than this many blocks behind its headers.
NODE_LAG_MAX_BLOCKS = env.int("NODE_LAG_MAX_BLOCKS", default=2)

# Celery: Redis broker, queues per concern (see docs/architecture.md).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/2")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "custody.tasks.deposit_*": {"queue": "deposits"},
    "custody.tasks.withdrawal_*": {"queue": "withdrawals"},
    "merchants.tasks.webhook_*": {"queue": "webhooks"},
    "compliance.tasks.report_*": {"queue": "reports"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Every task is bounded in time: a soft limit raises inside the task (it can stop cleanly),
# the hard one kills it. Tasks are idempotent, so a killed run is retried safely.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT_S", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT_S", default=300)
CELERY_TASK_ANNOTATIONS = {
    # One webhook delivery is bounded by its own HTTP deadline; the task barely above it.
    "merchants.tasks.webhook_deliver": {"soft_time_limit": 30, "time_limit": 45},
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["core.renderers.FastJSONRenderer"],  # orjson, same bytes
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.renderers.FastContentNegotiation",
    "EXCEPTION_HANDLER": "bank.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Alatau merchant API",
    "DESCRIPTION": "Invoices, webhooks, refunds and balances, in the dialect of BTCPay Greenfield.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Serve Swagger UI's assets from the package, not a CDN the bank's network may not reach.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "merchants.schema.greenfield_path_names",  # BTCPay's {storeId}, {invoiceId}, ...
    ],
}

# Bank identity: Kazakh IBAN bank code (3 digits) for account numbers.
BANK_IBAN_CODE = env.str("BANK_IBAN_CODE", default="970")

# Web banking (accounts): second factor above these transfer amounts, the wait
# before a new withdrawal address may be used, how long an exchange quote holds,
# and rate limits of sensitive POSTs (django-ratelimit, counted in the cache).
TRANSFER_2FA_THRESHOLD_TIYN = env.int("TRANSFER_2FA_THRESHOLD_TIYN", default=500_000_00)
TRANSFER_2FA_THRESHOLD_SATS = env.int("TRANSFER_2FA_THRESHOLD_SATS", default=1_000_000)
WITHDRAWAL_ADDRESS_COOLDOWN_S = env.int("WITHDRAWAL_ADDRESS_COOLDOWN_S", default=24 * 3600)
EXCHANGE_QUOTE_TTL_S = env.int("EXCHANGE_QUOTE_TTL_S", default=30)
# A staff-set rate older than this prices nothing (quotes, KZT invoices, limit valuations).
EXCHANGE_RATE_MAX_AGE_S = env.int("EXCHANGE_RATE_MAX_AGE_S", default=24 * 3600)
# A new mid rate moving more than this from the one in force needs a second staff member.
EXCHANGE_RATE_JUMP_MAX_BP = env.int("EXCHANGE_RATE_JUMP_MAX_BP", default=500)
# Fiat currencies (ISO 4217) invoices may be priced in, each at a pricing rate staff or a
# feed set (exchange.PricingRate, same age and jump controls). The bank holds none of them.
PRICING_FIAT_CURRENCIES = env.list("PRICING_FIAT_CURRENCIES", default=["USD", "EUR"])
RATELIMIT_SIGNUP = env.str("RATELIMIT_SIGNUP", default="10/h")
RATELIMIT_PASSWORD_RESET = env.str("RATELIMIT_PASSWORD_RESET", default="5/h")
RATELIMIT_TRANSFER = env.str("RATELIMIT_TRANSFER", default="30/m")
OTP_TOTP_ISSUER = "Alatau Bank"

# Bitcoin node.
BITCOIN_NETWORK = env.str("BITCOIN_NETWORK", default="regtest")
BITCOIND_RPC_URL = env.str("BITCOIND_RPC_URL", default="")
BITCOIND_DATADIR = env.str("BITCOIND_DATADIR", default=str(BASE_DIR / "var" / "bitcoind"))
BITCOIND_RPC_TIMEOUT_S = env.int("BITCOIND_RPC_TIMEOUT_S", default=30)
DEPOSIT_CONFIRMATIONS = env.int("DEPOSIT_CONFIRMATIONS", default=3)
WITHDRAWAL_CONFIRMATIONS = env.int("WITHDRAWAL_CONFIRMATIONS", default=1)

# Custody (custody/): wallets, deposits, withdrawals. Amounts in satoshis.
CUSTODY_HOT_WALLET = env.str("CUSTODY_HOT_WALLET", default="hot")
# A credited deposit counts as confirmed (spendable, and an asset in reconciliation and
# proof of reserves) from max(its address's confirmations, this); below, it is held.
DEPOSIT_SPENDABLE_CONFIRMATIONS = env.int("DEPOSIT_SPENDABLE_CONFIRMATIONS", default=1)
DEPOSIT_MIN_SATS = env.int("DEPOSIT_MIN_SATS", default=546)
# Deposits credited per transaction, posted by one ledger batch call (which holds the
# audit chain head from its end to the commit: a 1,000-deposit batch is ~0.1 s).
DEPOSIT_SCAN_CREDIT_BATCH = env.int("DEPOSIT_SCAN_CREDIT_BATCH", default=1000)
# Dotted paths of callables run (on commit) with each Deposit that changed.
CUSTODY_DEPOSIT_LISTENERS: list[str] = env.list("CUSTODY_DEPOSIT_LISTENERS", default=[])
WITHDRAWAL_FEE_SATS = env.int("WITHDRAWAL_FEE_SATS", default=1_000)
WITHDRAWAL_MIN_SATS = env.int("WITHDRAWAL_MIN_SATS", default=546)
WITHDRAWAL_MAX_SATS = env.int("WITHDRAWAL_MAX_SATS", default=10 * 100_000_000)
WITHDRAWAL_BATCH_MAX = env.int("WITHDRAWAL_BATCH_MAX", default=100)
FEE_RATE_FLOOR_SAT_VB = env.int("FEE_RATE_FLOOR_SAT_VB", default=2)
FEE_RATE_CAP_SAT_VB = env.int("FEE_RATE_CAP_SAT_VB", default=200)
# CPFP fee bumps of stuck batches: a child fee above this needs a second staff member;
# the automatic rule bumps batches broadcast longer ago than FEE_BUMP_AFTER_S.
FEE_BUMP_FOUR_EYES_SATS = env.int("FEE_BUMP_FOUR_EYES_SATS", default=50_000)
FEE_BUMP_AFTER_S = env.int("FEE_BUMP_AFTER_S", default=3 * 3600)
# Address validation at request time must not wait on the node for long.
WITHDRAWAL_NODE_CHECK_TIMEOUT_S = env.int("WITHDRAWAL_NODE_CHECK_TIMEOUT_S", default=2)
CELERY_BEAT_SCHEDULE = {
    "notifications-collect": {
        "task": "notifications.tasks.notifications_collect",
        "schedule": 15.0,
    },
    "custody-deposit-scan": {"task": "custody.tasks.deposit_scan", "schedule": 30.0},
    "custody-withdrawal-batch": {"task": "custody.tasks.withdrawal_batch", "schedule": 60.0},
    "custody-withdrawal-broadcast": {
        "task": "custody.tasks.withdrawal_broadcast",
        "schedule": 60.0,
    },
    "custody-withdrawal-confirm": {"task": "custody.tasks.withdrawal_confirm", "schedule": 60.0},
    "custody-withdrawal-fee-bumps": {
        "task": "custody.tasks.withdrawal_fee_bumps",
        "schedule": 300.0,
    },
    # The deposit listeners' outbox: calls that failed are retried until they succeed.
    "custody-deposit-listeners": {"task": "custody.tasks.deposit_listeners", "schedule": 30.0},
    # PayoutUpdated webhooks for withdrawals that moved (custody's hook sends most at once).
    "merchants-payouts-observe": {"task": "merchants.tasks.payouts_observe", "schedule": 30.0},
}

# Compliance (compliance/). Thresholds of the screening rules live in the database
# (RuleConfig); this is only the BTC/KZT rate used before exchange.ExchangeRate has a row.
KZT_PER_BTC_TIYN = env.int("KZT_PER_BTC_TIYN", default=45_000_000 * 100)
CELERY_BEAT_SCHEDULE["accounts-holds-expire"] = {
    "task": "accounts.tasks.holds_expire",
    "schedule": 60.0,
}
# Seal the audit chain head outside the database every hour (audit/anchors.py).
CELERY_BEAT_SCHEDULE["audit-anchor-hourly"] = {
    "task": "audit.tasks.audit_anchor_publish",
    "schedule": env.float("AUDIT_ANCHOR_EVERY_S", default=3600.0),
}
# Monthly partitions of the audit events, made months ahead of need (audit/partitions.py).
CELERY_BEAT_SCHEDULE["audit-partitions-daily"] = {
    "task": "audit.tasks.audit_partitions_ensure",
    "schedule": crontab(hour=2, minute=45),
}
# The transfers' monthly partitions the same way, just after (accounts/partitions.py).
CELERY_BEAT_SCHEDULE["accounts-transfer-partitions-daily"] = {
    "task": "accounts.tasks.transfer_partitions_ensure",
    "schedule": crontab(hour=2, minute=50),
}
CELERY_BEAT_SCHEDULE["compliance-audit-verify-daily"] = {
    "task": "compliance.tasks.audit_verify_daily",
    "schedule": crontab(hour=3, minute=15),
}

# Treasury (treasury/): cold wallet, rebalancing, reconciliation, proof of reserves.
TREASURY_COLD_WALLET = env.str("TREASURY_COLD_WALLET", default="cold")
# The stand-in offline signer (development and tests only; refused on mainnet).
TREASURY_SIGNER_PREFIX = "cold-signer"
TREASURY_SIGNER_WALLET = env.str("TREASURY_SIGNER_WALLET", default="cold-signer")
COLD_FEE_MAX_SATS = env.int("COLD_FEE_MAX_SATS", default=50_000)
HOT_WALLET_MAX_SATS = env.int("HOT_WALLET_MAX_SATS", default=10 * 100_000_000)
HOT_WALLET_MIN_SATS = env.int("HOT_WALLET_MIN_SATS", default=1 * 100_000_000)
# 0: off; else the maximum is also capped at this share of customer BTC liabilities.
HOT_WALLET_MAX_SHARE_BP = env.int("HOT_WALLET_MAX_SHARE_BP", default=0)
SWEEP_MIN_SATS = env.int("SWEEP_MIN_SATS", default=100_000)
CELERY_BEAT_SCHEDULE |= {
    "treasury-rebalance": {"task": "treasury.tasks.treasury_rebalance", "schedule": 300.0},
    "treasury-reconcile": {"task": "treasury.tasks.treasury_reconcile", "schedule": 600.0},
    "treasury-reserves-snapshot": {
        "task": "treasury.tasks.treasury_reserves_snapshot",
        "schedule": crontab(hour=0, minute=30),
    },
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# Merchant API (merchants/): per-key rate limit, public base of checkout links,
# on-chain invoice addresses, the deposit listener, periodic expiry and webhook sweeps.
# The block explorer page of a transaction, shown as a payout's ``paymentProof.link``
# (e.g. "https://mempool.space/tx/{txid}"); empty: no link (regtest, or none wanted).
PAYOUT_TX_LINK = env.str("PAYOUT_TX_LINK", default="")
MERCHANT_API_RATE = env.str("MERCHANT_API_RATE", default="600/min")
# Failed API-key authentications per client address; public pull-payment paths per client.
MERCHANT_API_AUTH_FAILURE_RATE = env.str("MERCHANT_API_AUTH_FAILURE_RATE", default="30/min")
MERCHANT_API_PUBLIC_RATE = env.str("MERCHANT_API_PUBLIC_RATE", default="120/min")
# Public merchant pages per client address: payment-link and checkout pages, paying
# (a link's invoice, in-bank at the checkout), the checkout's status poll.
MERCHANT_WEB_PUBLIC_RATE = env.str("MERCHANT_WEB_PUBLIC_RATE", default="60/min")
MERCHANT_WEB_PAY_RATE = env.str("MERCHANT_WEB_PAY_RATE", default="10/min")
MERCHANT_WEB_POLL_RATE = env.str("MERCHANT_WEB_POLL_RATE", default="120/min")
MERCHANT_PUBLIC_BASE_URL = env.str("MERCHANT_PUBLIC_BASE_URL", default="")
MERCHANT_INVOICE_ONCHAIN = env.bool("MERCHANT_INVOICE_ONCHAIN", default=True)
# Webhooks to loopback/private addresses only outside production (SSRF guard).
MERCHANT_WEBHOOK_ALLOW_PRIVATE = env.bool(
    "MERCHANT_WEBHOOK_ALLOW_PRIVATE", default=ALATAU_ENV in ("development", "test")
)
# Money-moving API requests without an Idempotency-Key: the same request within this
# window is a retry, answered once (merchants/services/idempotency.py).
MERCHANT_DERIVED_IDEMPOTENCY_S = env.int("MERCHANT_DERIVED_IDEMPOTENCY_S", default=600)
_INVOICE_LISTENER = "merchants.services.payments.invoice_deposit_listener"
if _INVOICE_LISTENER not in CUSTODY_DEPOSIT_LISTENERS:
    CUSTODY_DEPOSIT_LISTENERS.append(_INVOICE_LISTENER)
CELERY_BEAT_SCHEDULE["merchants-invoice-expire"] = {
    "task": "merchants.tasks.invoice_expire",
    "schedule": 10.0,
}
CELERY_BEAT_SCHEDULE["merchants-webhook-deliver-due"] = {
    "task": "merchants.tasks.webhook_deliver_due",
    "schedule": 120.0,
}
CELERY_BEAT_SCHEDULE["merchants-idempotency-purge"] = {
    "task": "merchants.tasks.idempotency_purge_old",
    "schedule": 3600.0,
}
CELERY_BEAT_SCHEDULE["merchants-kzt-settle-due"] = {
    "task": "merchants.tasks.kzt_settle_due",
    "schedule": 300.0,
}
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    "InvoiceStatusEnum": "merchants.models.InvoiceStatus",
    "InvoiceStatusMarkEnum": ["Invalid", "Settled"],
    "PaymentStatusEnum": "merchants.models.PaymentStatus",
    "DeliveryStatusEnum": ["Pending", "Failed", "HttpError", "HttpSuccess"],
}
