"""The customers of the web-banking tests."""

from tests.banking.conftest import _web_settings, customer, make_customer  # noqa: F401
