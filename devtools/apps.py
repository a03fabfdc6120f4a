from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class DevtoolsConfig(AppConfig):
    """Development tools kept apart from the domain: the regtest node runtime."""

    name = "devtools"
    verbose_name = gettext_lazy("Development tools")
