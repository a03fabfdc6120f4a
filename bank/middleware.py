"""Structured request logging: one JSON line per request with a request id."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from bank.metrics import request_observe
from core.http import current_request

logger = logging.getLogger("alatau.request")


class RequestLogMiddleware:
    """Log method, path, status and duration; echo an ``X-Request-ID``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")  # not .headers: it copies them all
        # Accept a caller's id only if it is short and plain; never log raw input.
        request_id = incoming if incoming.isalnum() and len(incoming) <= 64 else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        started = time.perf_counter()
        token = current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(token)
        seconds = time.perf_counter() - started
        duration_ms = round(seconds * 1000, 1)
        request_observe(method=request.method or "", status=response.status_code, seconds=seconds)
        response["X-Request-ID"] = request_id
        logger.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "user_id": getattr(getattr(request, "user", None), "pk", None),
            },
        )
        return response
