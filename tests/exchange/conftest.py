"""Exchange tests reuse the compliance staff fixture (officers with TOTP devices)."""

from tests.compliance.conftest import staff

__all__ = ["staff"]
