"""The staff admin site: django-otp's OTPAdminSite with counters and report downloads."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp.admin import OTPAdminSite

from accounts.access import acting_user
from compliance.admin.login import StaffLoginForm
from compliance.permissions import has_perm
from compliance.selectors import admin_counters
from compliance.services.reports import REPORT_NAMES, VIEW_REPORTS, report_open
from core.db_reads import lagging_iter
from core.errors import ApplicationError, PermissionDenied
from core.http import client_address


class _Echo:
    """A write-through buffer for ``csv.writer`` feeding a streaming response."""

    def write(self, value: str) -> str:
        return value


def _csv_stream(rows: Iterator[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


class AlatauAdminSite(OTPAdminSite):
    """Requires a verified OTP device; adds the index counters and the reports page."""

    site_header = gettext_lazy("Alatau staff")
    site_title = gettext_lazy("Alatau staff")
    index_title = gettext_lazy("Work queues")
    index_template = "admin/alatau_index.html"
    # Picks the device from the code, so a valid code works on the first submit.
    login_form = StaffLoginForm

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        context = {
            **(extra_context or {}),
            "counters": admin_counters(user=request.user),
            "can_reports": has_perm(request.user, VIEW_REPORTS),
        }
        return super().index(request, context)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        ours: list[URLResolver | URLPattern] = [
            path("reports/", self.admin_view(self.reports_view), name="reports"),
            path("reports/<str:name>.csv", self.admin_view(self.report_csv), name="report_csv"),
        ]
        return ours + super().get_urls()

    def reports_view(self, request: HttpRequest) -> HttpResponse:
        if not has_perm(request.user, VIEW_REPORTS):
            return TemplateResponse(
                request,
                "admin/alatau_denied.html",
                {**self.each_context(request), "title": _("Reports")},
                status=403,
            )
        context = {**self.each_context(request), "title": _("Reports"), "reports": REPORT_NAMES}
        return TemplateResponse(request, "admin/alatau_reports.html", context)

    def report_csv(self, request: HttpRequest, name: str) -> HttpResponseBase:
        try:
            rows = report_open(
                actor=acting_user(request),
                name=name,
                params=request.GET.dict(),
                client_address=client_address(request),
            )
        except PermissionDenied as exc:
            return HttpResponse(exc.message, status=403, content_type="text/plain")
        except ApplicationError as exc:
            messages.error(request, f"{exc.message} {exc.fields or ''}")
            return redirect("admin:reports")
        # The rows are read while the body streams: lagging reads, on the replica if usable.
        body = lagging_iter(_csv_stream(rows), user=request.user)
        response = StreamingHttpResponse(body, content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
