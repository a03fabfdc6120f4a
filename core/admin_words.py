"""Django admin words whose Kazakh translation Django lacks or misspells.

Django's own kk catalog has no "View", "View site", "Recent actions" or "My actions"
and spells "Change" as "Өзгетру". The project's catalogs (``LOCALE_PATHS``) come
before Django's, so listing the msgids here puts them into ``make messages`` and
the bank's translations win for every language. Nothing imports this module.
"""

from django.utils.translation import gettext_noop

ADMIN_WORDS = (
    gettext_noop("View"),
    gettext_noop("View site"),
    gettext_noop("Recent actions"),
    gettext_noop("My actions"),
    gettext_noop("Change"),
)
