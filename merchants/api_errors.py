"""Errors of the merchant API in BTCPay Greenfield's shapes.

BTCPay's server answers a validation failure with HTTP 422 and a JSON array,
one item per problem (``[{"path": "amount", "message": "..."}]``), and every
other error with ``{"code": "...", "message": "..."}`` and a kebab-case code
(``invoice-not-found``, ``unauthenticated``, ``missing-permission`` with
``missingPermission``, ``generic-error`` when none is given). Alatau keeps its
own detail in extra fields of the object form, never instead of these.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError, ValidationFailed

BODY_BYTES_MAX = 64 * 1024

# Greenfield's ValidationProblemDetails: a JSON array of {path, message} (plus Alatau's code).
VALIDATION_ERRORS_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "JSON path; empty: the whole body."},
            "message": {"type": "string"},
            "code": {"type": "string", "description": "Alatau's stable code (kebab case)."},
        },
        "required": ["path", "message"],
    },
}


def kebab(code: str) -> str:
    """Return a stable code in BTCPay's kebab case (``invoice_not_found`` -> ``invoice-not-found``)."""
    return str(code).replace("_", "-") or "generic-error"


class MissingPermission(exceptions.PermissionDenied):
    """The key lacks the permission; Greenfield names it in ``missingPermission``."""

    def __init__(self, permission: str) -> None:
        super().__init__(f"Insufficient API Permissions. Please use an API key with {permission}.")
        self.permission = permission


class BodyTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = f"The request body is larger than {BODY_BYTES_MAX} bytes."
    default_code = "body-too-large"


class InvalidJson(exceptions.APIException):
    """A body that is not JSON the API can hold: 422 at ``path`` (Greenfield's list shape)."""

    status_code = 422
    default_code = "invalid-json"

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


def problems(
    fields: dict[str, Any], message: str, code: str = "validation-error"
) -> list[dict[str, str]]:
    """Turn ``{"checkout.speedPolicy": ["..."]}`` into Greenfield's ``[{"path", "message"}]``.

    Each item also carries Alatau's stable ``code`` (BTCPay's items are open objects).
    """
    out: list[dict[str, str]] = []
    for path, messages in fields.items():
        items = messages if isinstance(messages, list) else [messages]
        for item in items:
            where = "" if path == "non_field_errors" else str(path)
            out.append({"path": where, "message": str(item), "code": code})
    return out or [{"path": "", "message": message, "code": code}]


def _drf_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten DRF's nested error detail into dotted JSON paths."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):
                name = f"{prefix}[{key}]"  # DRF's ListField reports items by index
            else:
                name = str(key) if not prefix else f"{prefix}.{key}"
            if key == "non_field_errors":
                name = prefix
            if isinstance(value, dict | list) and not _is_leaf_list(value):
                out.update(_drf_fields(value, name))
            else:
                out.setdefault(name, []).extend(str(v) for v in _as_list(value))
    elif isinstance(detail, list):
        if _is_leaf_list(detail):
            out.setdefault(prefix, []).extend(str(v) for v in detail)
        else:
            for i, item in enumerate(detail):
                if item:
                    out.update(_drf_fields(item, f"{prefix}[{i}]"))
    else:
        out.setdefault(prefix, []).append(str(detail))
    return out


def _is_leaf_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def greenfield_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map application and DRF errors to Greenfield's shapes; let others become 500s."""
    if isinstance(exc, ValidationFailed) or (
        isinstance(exc, ApplicationError) and exc.http_status == 422
    ):
        return Response(problems(exc.fields, exc.message, kebab(exc.code)), status=422)
    if isinstance(exc, RequestDataTooBig):
        return Response(_too_large_body(), status=413)
    if isinstance(exc, ApplicationError):
        body: dict[str, Any] = {"code": kebab(exc.code), "message": exc.message}
        if exc.fields:
            body["fields"] = exc.fields  # Alatau's detail, beside BTCPay's two fields
        return Response(body, status=exc.http_status)
    if isinstance(exc, InvalidJson):
        item = {"path": exc.path, "message": str(exc.detail), "code": "invalid-json"}
        return Response([item], status=422)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = problems(_drf_fields(exc.detail), "The request is not valid.")
        response.status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
        return response
    response.data = _error_body(exc)
    return response


def _error_body(exc: Exception) -> dict[str, Any]:
    detail = str(getattr(exc, "detail", exc))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return {"code": "unauthenticated", "message": detail}
    if isinstance(exc, MissingPermission):
        return {
            "code": "missing-permission",
            "message": detail,
            "missingPermission": exc.permission,
        }
    if isinstance(exc, exceptions.Throttled):
        return {"code": "too-many-requests", "message": detail}
    code = getattr(exc, "default_code", "generic-error")
    return {"code": kebab(code), "message": detail}


@csrf_exempt  # an API path: no session, no CSRF page (it would be Django's HTML 403)
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Answer any unknown path under ``/api/v1/`` with JSON, never Django's HTML page."""
    return JsonResponse(
        {"code": "not-found", "message": "There is no such endpoint in the API."}, status=404
    )


def _too_large_body() -> dict[str, str]:
    """The 413 body for a body over Django's memory cap: the same as over the API's own."""
    return {"code": BodyTooLarge.default_code, "message": str(BodyTooLarge.default_detail)}
