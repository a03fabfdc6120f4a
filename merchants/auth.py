"""API key authentication, scope permission, per-key and failed-auth rate limits, a safe JSON parser."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.http import client_address
from core.redis_client import cache_key, redis_client
from merchants.api_errors import BODY_BYTES_MAX, BodyTooLarge, InvalidJson, MissingPermission
from merchants.models import ApiKey
from merchants.services import key_cache
from merchants.services.keys import api_key_authenticate, scopes_effective, token_hash

JSON_DEPTH_MAX = 32
RATE_UNITS_S = {
    "s": 1,
    "sec": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` -> (600, 60)."""
    count, _, unit = str(rate).partition("/")
    return int(count), RATE_UNITS_S[unit.strip().lower()]


def _window(name: str, rate: str) -> tuple[str, int, int, int]:
    """(Redis key of the current fixed window, limit, window seconds, seconds to its end)."""
    limit, window_s = parse_rate(rate)
    now = int(time.time())
    start = now - now % window_s
    return cache_key(f"ratelimit:{name}:{start}"), limit, window_s, start + window_s - now


def _count(pipe: Any, key: str, window_s: int, add: int = 1) -> None:
    """Queue the window's creation (``SET NX EX``) and the atomic ``INCRBY`` on a pipeline."""
    pipe.set(key, 0, ex=window_s + 5, nx=True)
    pipe.incrby(key, add)


def window_hit(name: str, rate: str, *, add: int = 1) -> tuple[int, int, int]:
    """Count one hit in the current fixed window with Redis's atomic increment.

    Return (hits so far in this window, the limit, seconds to the window's end).
    ``INCRBY`` is atomic, so concurrent requests never read-then-write the counter
    (the lost updates that let 12 threads through 29% over the limit). Creating the
    window (``SET NX EX``) and counting go in one pipelined round trip.
    """
    key, limit, window_s, wait_s = _window(name, rate)
    client = redis_client()
    if not add:
        return int(client.get(key) or 0), limit, wait_s
    pipe = client.pipeline(transaction=False)
    _count(pipe, key, window_s, add)
    return int(pipe.execute()[1]), limit, wait_s


# KEYS: the client's failure window, the key cache's generation, [the key's rate window].
# One command instead of a pipeline of four: redis-py packs and parses each command of a
# pipeline in Python, and the script's replies need no second look. The count is the same
# ``SET NX EX`` then atomic ``INCR`` as ``window_hit`` (a script runs atomically anyway).
LOOKUPS_LUA = """
local failures = tonumber(redis.call('GET', KEYS[1]) or '0')
local generation = tonumber(redis.call('GET', KEYS[2]) or '0')
local hits = -1
if KEYS[3] then
  redis.call('SET', KEYS[3], 0, 'EX', ARGV[1], 'NX')
  hits = redis.call('INCR', KEYS[3])
end
return {failures, generation, hits}
"""


@functools.cache
def _lookups_script() -> Any:
    return redis_client().register_script(LOOKUPS_LUA)


def _key_rate() -> str:
    return str(settings.MERCHANT_API_RATE)


def _failure_rate() -> str:
    return str(getattr(settings, "MERCHANT_API_AUTH_FAILURE_RATE", "30/min"))


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: token <key>`` (BTCPay Greenfield). The user is the merchant's owner.

    Failed attempts are counted per client address; past ``MERCHANT_API_AUTH_FAILURE_RATE``
    the client gets 429 before any key is checked, so keys cannot be guessed at speed.
    """

    keyword = "token"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        client = client_address(request._request) or "unknown"
        parts = header.split()
        well_formed = len(parts) == 2 and parts[0].lower() == self.keyword
        failures, limit, generation = self._lookups(
            request, client, parts[1] if well_formed else ""
        )
        if failures >= limit:
            raise exceptions.Throttled(
                wait=self._failure_wait_s, detail="Too many failed authentications."
            )
        if not well_formed:
            self._failed(client)
            raise exceptions.AuthenticationFailed("Use the header 'Authorization: token <key>'.")
        key = api_key_authenticate(parts[1], generation=generation)
        if key is None:
            self._failed(client)
            raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
        if not key.merchant.is_active:
            raise exceptions.AuthenticationFailed("The merchant is suspended.")
        return key.merchant.owner, key

    def _lookups(self, request: Request, client: str, token: str) -> tuple[int, int, int]:
        """One Redis round trip: the client's failures, the key cache's generation and,
        when this process has seen the token's key before, the per-key rate count.

        Counting the key's request here, before the key is checked, saves the throttle its
        own round trip (each costs ~0.3 ms of CPU in redis-py). It can only count more: a
        request refused afterwards (revoked key, lockout, missing scope) still counts
        against the key it named, which never lets a request through that would not be.
        """
        failure_key, limit, _, self._failure_wait_s = _window(f"authfail:{client}", _failure_rate())
        keys, args = [failure_key, key_cache.generation_key()], []
        key_id = key_cache.cached_pk(token_hash(token)) if token else None
        if key_id is not None:
            rate_key, rate_limit, window_s, wait_s = _window(f"key:{key_id}", _key_rate())
            keys.append(rate_key)
            args.append(window_s + 5)
        failures, generation, hits = _lookups_script()(keys=keys, args=args)
        if key_id is not None:
            request._request.alatau_key_rate = (key_id, int(hits), rate_limit, wait_s)  # type: ignore[attr-defined]
        return int(failures), limit, int(generation)

    def _failed(self, client: str) -> None:
        window_hit(f"authfail:{client}", _failure_rate())

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class HasScope(BasePermission):
    """Allow a request when the key holds the view's scope for this HTTP method.

    A key without it gets 403 ``missing-permission`` naming the permission (BTCPay's answer).
    """

    message = "This API key lacks the permission for this operation."

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        if not hasattr(view, str(request.method).lower()):
            return True  # no such operation: the view answers 405 method-not-allowed
        method = "GET" if request.method == "HEAD" else request.method  # HEAD reads like GET
        needed = view.required_scopes.get(method)
        if needed is None:
            return False
        if needed not in scopes_effective(key.scopes):
            raise MissingPermission(needed)
        return True


class IsApiKey(BasePermission):
    """Allow any request made with a valid API key, whatever its scopes."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)


class ApiKeyRateThrottle(BaseThrottle):
    """A fixed-window counter per API key in the Redis cache (``MERCHANT_API_RATE``)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        counted = getattr(request._request, "alatau_key_rate", None)  # by the authentication
        if counted is not None and counted[0] == key.pk:
            hits, limit, self._wait_s = counted[1:]
        else:
            hits, limit, self._wait_s = window_hit(f"key:{key.pk}", _key_rate())
        return hits <= limit

    def wait(self) -> float | None:
        return int(getattr(self, "_wait_s", 1))  # whole seconds (Retry-After)


class ClientRateThrottle(BaseThrottle):
    """Public paths (no key): a fixed-window counter per client address."""

    def allow_request(self, request: Request, view: Any) -> bool:
        client = client_address(request._request) or "unknown"
        rate = str(getattr(settings, "MERCHANT_API_PUBLIC_RATE", "120/min"))
        hits, limit, self._wait_s = window_hit(f"public:{client}", rate)
        return hits <= limit

    def wait(self) -> float | None:
        return int(getattr(self, "_wait_s", 1))  # whole seconds (Retry-After)


def _check_text(value: str, path: str) -> None:
    """Refuse text that PostgreSQL or UTF-8 cannot hold: NUL and lone surrogates."""
    if "\x00" in value:
        raise InvalidJson("NUL characters are not allowed.", path=path)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidJson("Lone surrogates are not valid Unicode.", path=path) from None


def check_json_value(value: Any, path: str = "", depth: int = 0) -> None:
    """Walk parsed JSON: bounded depth, every key and string storable."""
    if depth > JSON_DEPTH_MAX:
        raise InvalidJson(f"JSON nested deeper than {JSON_DEPTH_MAX} levels.", path=path)
    if isinstance(value, str):
        _check_text(value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            _check_text(key, path)
            check_json_value(item, where, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_json_value(item, f"{path}[{i}]", depth + 1)
    elif isinstance(value, Decimal) and not value.is_finite():
        raise InvalidJson("NaN and Infinity are not JSON numbers.", path=path)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class DecimalJSONParser(JSONParser):
    """Parse JSON numbers with a fraction as ``Decimal``: no binary float ever holds money.

    Bodies are bounded (``BODY_BYTES_MAX``), nesting too (``JSON_DEPTH_MAX``), and
    strings that the database cannot store (NUL, lone surrogates) are refused with 422.
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
        except (UnicodeDecodeError, LookupError):
            raise InvalidJson("The body is not UTF-8 text.") from None
        if not raw.strip():
            return {}
        if _depth_over(raw):
            raise InvalidJson(f"JSON nested deeper than {JSON_DEPTH_MAX} levels.")
        try:
            value = json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            raise InvalidJson(f"JSON parse error - {exc}") from None
        check_json_value(value)
        return value


def _depth_over(raw: str) -> bool:
    """Cheap pre-check of bracket depth (outside strings) before ``json.loads`` recurses."""
    depth, in_string, escaped = 0, False, False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > JSON_DEPTH_MAX + 1:
                return True
        elif ch in "]}":
            depth -= 1
    return False
