from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Development tools kept apart from the domain: the regtest node runtime."""

    name = "devtools"
    verbose_name = "Development tools"
