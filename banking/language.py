"""Remember each customer's language (for their emails) as they use the web bank."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.translation import get_language

from notifications.services import customer_language_set

SESSION_KEY = "_language_saved"


class CustomerLanguageMiddleware:
    """After LocaleMiddleware: store the request's language once per change, not per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        language = get_language() or ""
        # Web sessions only: API clients (merchant keys) have no session and no language.
        if (
            user is not None
            and request.session.session_key
            and user.is_authenticated
            and not user.is_staff
            and request.session.get(SESSION_KEY) != language
        ):
            customer_language_set(user=user, language=language)
            request.session[SESSION_KEY] = language
        return response
