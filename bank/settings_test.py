"""Settings for the test suite: the real services, development secrets, fast hashing."""

import os

os.environ.setdefault("ALATAU_ENV", "test")
os.environ.setdefault("SECURE_COOKIES", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("LOG_FORMAT", "plain")
os.environ.setdefault("CACHE_KEY_PREFIX", f"alatau-test-{os.getpid()}")

from bank.settings import *  # noqa: F403

# Argon2 at full cost makes each test login ~100 ms; tests check behaviour, not cost.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# WhiteNoise warns on every request when STATIC_ROOT is missing (no collectstatic in tests).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - from bank.settings

# Django empties the tables between transactional tests with TRUNCATE, which the ledger's
# and the audit log's guards refuse (audit/migrations/0003); only the test connection says so.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c alatau.allow_truncate=on"  # noqa: F405

# No replica alias in the test settings. Django would either create a test database on the
# standby (read-only: it fails) or, with TEST MIRROR, copy the primary's whole connection
# settings into the alias (a second connection to the primary, no replication at all).
# tests/bank/test_replica.py starts a real primary + streaming replica of its own.
DATABASES.pop("replica", None)  # noqa: F405
