"""URL routes of this app (filled in as its pages and endpoints land)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
