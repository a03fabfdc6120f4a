"""API key authentication, scope permission, per-key rate limit, a float-free JSON parser."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from bank.ratelimit import window_hit
from merchants.models import ApiKey
from merchants.services.keys import api_key_authenticate, scopes_effective


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: token <key>`` (BTCPay Greenfield). The user is the merchant's owner."""

    keyword = "token"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != self.keyword:
            raise exceptions.AuthenticationFailed("Use the header 'Authorization: token <key>'.")
        key = api_key_authenticate(parts[1])
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
        if not key.merchant.is_active:
            raise exceptions.AuthenticationFailed("The merchant is suspended.")
        return key.merchant.owner, key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class HasScope(BasePermission):
    """Allow a request when the key holds the view's scope for this HTTP method."""

    message = "This API key lacks the permission for this operation."

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        needed = view.required_scopes.get(request.method)
        return needed is not None and needed in scopes_effective(key.scopes)


class IsApiKey(BasePermission):
    """Allow any request made with a valid API key, whatever its scopes."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)


class ApiKeyRateThrottle(SimpleRateThrottle):
    """A request counter per API key and window in Redis (``MERCHANT_API_RATE``, e.g. ``600/min``).

    One pipelined round trip per request (``bank.ratelimit``), whatever the rate.
    """

    scope = "merchant_api"
    _retry_after_s = 1.0

    def allow_request(self, request: Request, view: Any) -> bool:
        key = self.get_cache_key(request, view)
        limit, duration_s = self.parse_rate(self.rate)
        if key is None or limit is None or duration_s is None:
            return True
        hits, left_s = window_hit(key, duration_s=int(duration_s))
        self._retry_after_s = max(1.0, left_s)
        return hits <= limit

    def wait(self) -> float:
        return self._retry_after_s

    def get_rate(self) -> str:
        return str(settings.MERCHANT_API_RATE)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        key = request.auth
        if not isinstance(key, ApiKey):
            return None
        return f"throttle:merchant_api:{key.pk}"


BODY_BYTES_MAX = 64 * 1024


class BodyTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = f"The request body is larger than {BODY_BYTES_MAX} bytes."
    default_code = "body_too_large"


class DecimalJSONParser(JSONParser):
    """Parse JSON numbers with a fraction as ``Decimal``: no binary float ever holds money.

    Bodies are bounded (``BODY_BYTES_MAX``): an invoice with its metadata is far smaller.
    """

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        data = stream.read(BODY_BYTES_MAX + 1) if stream is not None else b""
        if len(data) > BODY_BYTES_MAX:
            raise BodyTooLarge()
        try:
            raw = data.decode(encoding)
            return json.loads(raw, parse_float=Decimal) if raw.strip() else {}
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
