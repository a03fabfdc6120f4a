"""The in-app list of what the bank told the customer (also sent by email)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import current_user, customer_required
from notifications.selectors import notifications_for
from notifications.services import notifications_mark_read
from notifications.texts import notification_text


@customer_required
def notifications(request: HttpRequest) -> HttpResponse:
    """List the latest notifications in the page's language; opening the list reads them."""
    user = current_user(request)
    rows = []
    for note in notifications_for(user=user):
        title, body = notification_text(note)
        rows.append({"note": note, "title": title, "body": body, "unread": note.read_at is None})
    notifications_mark_read(user=user)
    return render(request, "accounts/notifications.html", {"rows": rows})
