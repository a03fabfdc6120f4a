"""The web-only middleware, skipped for merchant API requests (``/api/v1/``).

API clients authenticate with a key in a header (``merchants/auth.py``): they have no
session, no CSRF cookie (every API view is CSRF-exempt), no language choice (errors are
BTCPay's English) and no flash messages. Each of these middleware still cost CPU on
every API request (session and locale lookups, the lazy user, OTP's wrapper): about
0.5 ms of a read's CPU (profiled). Each class here is Django's (or the app's) own class, answering exactly as before on every other path and
passing an API request straight through; the order in ``MIDDLEWARE`` is unchanged.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django_otp.middleware import OTPMiddleware

from banking.language import CustomerLanguageMiddleware
from banking.middleware import UserSessionMiddleware

API_PREFIX = "/api/v1/"


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def web_only(cls: type[Any]) -> type[Any]:
    """``cls`` for web paths; for an API request, the next handler directly."""

    def __call__(self: Any, request: HttpRequest) -> HttpResponse:
        if is_api(request):
            return self.get_response(request)
        return cls.__call__(self, request)

    attrs: dict[str, Any] = {"__call__": __call__, "__doc__": f"{cls.__doc__ or ''} (web only)"}
    if hasattr(cls, "process_view"):

        def process_view(self: Any, request: HttpRequest, *args: Any) -> Any:
            return None if is_api(request) else cls.process_view(self, request, *args)

        attrs["process_view"] = process_view
    return type(cls.__name__, (cls,), attrs)


WebSessionMiddleware = web_only(SessionMiddleware)


class WebLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware on web paths; the API answers in the default language.

    Skipping the lookup is not enough: the active language is per thread, and a worker
    thread that just served a Russian page would answer the next API request in Russian
    (``19,99`` for ``19.99`` in a formatted amount). Activating the default is cheap.
    """

    def __call__(self, request: HttpRequest) -> Any:  # as MiddlewareMixin.__call__
        if is_api(request):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            return self.get_response(request)
        return super().__call__(request)


WebCsrfViewMiddleware = web_only(CsrfViewMiddleware)
WebAuthenticationMiddleware = web_only(AuthenticationMiddleware)
WebOTPMiddleware = web_only(OTPMiddleware)
WebUserSessionMiddleware = web_only(UserSessionMiddleware)
WebCustomerLanguageMiddleware = web_only(CustomerLanguageMiddleware)
WebMessageMiddleware = web_only(MessageMiddleware)
