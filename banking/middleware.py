"""Keep "last seen" of the signed-in user's session fresh for the sessions page."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.services.sessions import user_session_touch

TOUCH_EVERY_S = 60


class UserSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and request.session.session_key:
            now = int(time.time())
            if now - int(request.session.get("_seen_at", 0)) >= TOUCH_EVERY_S:
                request.session["_seen_at"] = now
                user_session_touch(session_key=request.session.session_key)
        return self.get_response(request)
