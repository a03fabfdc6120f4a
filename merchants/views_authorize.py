"""``/api-keys/authorize``: how shop plugins obtain a key, as in BTCPay.

The plugin sends the merchant's browser to
``/api-keys/authorize?applicationName=...&permissions=...&redirect=https://shop/cb``.
The merchant logs in (with the second factor: the page refuses a session that
did not pass it), sees which permissions the application asks for and where the
key will go, and approves. The bank then creates the key and the browser POSTs
it to ``redirect`` as a form: ``apiKey``, ``userId`` and ``permissions[]`` (each
``<permission>:<storeId>``), as BTCPay's server does. Without ``redirect`` the
key is shown once on the page. Keys are stored hashed, so an earlier key for the
same ``applicationIdentifier`` cannot be handed out again: each approval makes one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts.access import acting_user
from core.errors import ApplicationError
from merchants.errors import MerchantErrorCode
from merchants.models import Merchant
from merchants.selectors import merchants_for_user
from merchants.services.keys import SCOPES, api_key_create

APPLICATION_NAME_MAX = 100
PERMISSIONS_MAX = 50
REDIRECT_MAX = 2000
PERMISSION_KEY = re.compile(r"^permissions(\[\d{0,3}\])?$")
TRUE_TEXT = {"true", "1", "on", "yes"}
FALSE_TEXT = {"false", "0", "off", "no"}


class AuthorizeRequestInvalid(ApplicationError):
    """The authorization request is not valid."""

    code = MerchantErrorCode.AUTHORIZE_REQUEST_INVALID
    http_status = 400


@dataclass
class AuthorizeRequest:
    """What the application asks for, read from the query (or the consent form)."""

    application_name: str
    redirect: str
    strict: bool
    grantable: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)

    @property
    def redirect_host(self) -> str:
        return urlsplit(self.redirect).netloc if self.redirect else ""


def _text(source: QueryDict, name: str, length_max: int) -> str:
    value = source.get(name, "") or ""
    if len(value) > length_max or "\x00" in value:
        raise AuthorizeRequestInvalid(f"{name} is too long or not text.")
    return value.strip()


def _bool(source: QueryDict, name: str, default: bool) -> bool:
    value = (source.get(name) or "").lower()
    if not value:
        return default
    if value not in TRUE_TEXT | FALSE_TEXT:
        raise AuthorizeRequestInvalid(f"{name} must be true or false.")
    return value in TRUE_TEXT


def _permissions(source: QueryDict, store_id: str) -> tuple[list[str], list[str]]:
    """Split the asked permissions into what Alatau can grant and what it does not offer.

    ``permissions``, ``permissions[]`` and ``permissions[0]`` are all read (PHP
    plugins send the last form). A permission scoped to another store is unavailable.
    """
    asked: list[str] = []
    for key in source:
        if PERMISSION_KEY.match(key):
            asked += [p.strip() for p in source.getlist(key) if p.strip()]
    if len(asked) > PERMISSIONS_MAX or any(len(p) > 200 or "\x00" in p for p in asked):
        raise AuthorizeRequestInvalid("Too many or too long permissions.")
    grantable: list[str] = []
    unavailable: list[str] = []
    for permission in dict.fromkeys(asked):
        name, _, store = permission.partition(":")
        if name in SCOPES and store in ("", store_id):
            if name not in grantable:
                grantable.append(name)
        else:
            unavailable.append(permission)
    return grantable, unavailable


def authorize_request(source: QueryDict, merchant: Merchant) -> AuthorizeRequest:
    """Read and check an authorization request (``AuthorizeRequestInvalid`` if malformed)."""
    redirect = _text(source, "redirect", REDIRECT_MAX)
    if redirect:
        parts = urlsplit(redirect)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise AuthorizeRequestInvalid("redirect must be an absolute http(s) URL.")
    grantable, unavailable = _permissions(source, merchant.store_id)
    return AuthorizeRequest(
        application_name=_text(source, "applicationName", APPLICATION_NAME_MAX),
        redirect=redirect,
        strict=_bool(source, "strict", True),
        grantable=grantable,
        unavailable=unavailable,
    )


def _merchant_of(request: HttpRequest) -> Merchant:
    merchant = merchants_for_user(request.user).first()
    if merchant is None:
        raise Http404("You are not a merchant")
    return merchant


def _second_factor_passed(request: HttpRequest) -> bool:
    """Whether this session's login passed the second factor (django-otp's ``is_verified``)."""
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified is not None and is_verified())


def _page(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, "merchants/authorize.html", context, status=status)
    response["Cache-Control"] = "no-store"  # a new key must not linger in caches
    return response


@login_required
@require_http_methods(["GET", "POST"])
def api_key_authorize(request: HttpRequest) -> HttpResponse:
    """Show the consent page; on approval create the key and hand it to the application."""
    merchant = _merchant_of(request)
    source = request.POST if request.method == "POST" else request.GET
    try:
        ask = authorize_request(source, merchant)
    except AuthorizeRequestInvalid as exc:
        return _page(request, {"error": exc.message}, status=400)
    context: dict[str, Any] = {"ask": ask, "merchant": merchant, "scope_names": SCOPES}
    if not _second_factor_passed(request):
        return _page(request, {**context, "needs_2fa": True}, status=403)
    if request.method == "GET":
        return _page(request, context)
    if "deny" in request.POST or not ask.grantable:
        return _page(request, {**context, "denied": True})
    chosen = ask.grantable
    if not ask.strict:
        chosen = [p for p in ask.grantable if p in request.POST.getlist("grant")]
        if not chosen:
            return _page(request, {**context, "denied": True})
    label = (ask.application_name or "Authorized application")[:APPLICATION_NAME_MAX]
    try:
        _, token = api_key_create(
            merchant=merchant, label=label, scopes=chosen, actor=acting_user(request),
            otp_code=str(request.POST.get("otp_code", ""))[:10],
        )  # fmt: skip
    except ApplicationError as exc:
        return _page(request, {**context, "error": exc.message}, status=400)
    permissions = [f"{p}:{merchant.store_id}" for p in chosen]
    if not ask.redirect:
        return _page(request, {**context, "new_token": token, "granted": permissions})
    response = render(
        request,
        "merchants/authorize_post.html",
        {
            "action": ask.redirect,
            "fields": [
                ("apiKey", token),
                ("userId", str(request.user.pk)),
                *[("permissions[]", p) for p in permissions],
            ],
        },
    )
    response["Cache-Control"] = "no-store"
    return response
