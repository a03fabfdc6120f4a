"""One JSON error shape for the REST API: ``{"code", "message", "fields"}``."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError, CoreErrorCode


def _flatten(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in _flatten(value).items():
                    out[f"{key}.{sub}"] = msgs
            elif isinstance(value, list):
                out[str(key)] = [str(v) for v in value]
            else:
                out[str(key)] = [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(v) for v in detail]}
    return {}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map application and DRF errors to the one shape; let others become 500s."""
    if isinstance(exc, ApplicationError):
        return Response(exc.as_dict(), status=exc.http_status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = {
            "code": str(CoreErrorCode.VALIDATION_ERROR),
            "message": "The request is not valid.",
            "fields": _flatten(exc.detail),
        }
        response.status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    else:
        code = getattr(exc, "default_code", CoreErrorCode.ERROR)
        detail = getattr(exc, "detail", str(exc))
        body = {"code": str(code), "message": str(detail), "fields": {}}
    response.data = body
    return response
