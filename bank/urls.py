"""Root URLs: web banking at ``/``, staff admin at ``/admin/``, merchant API at ``/api/``."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from bank.health import healthz
from bank.metrics import metrics
from compliance.admin.site import AlatauAdminSite

# The staff admin requires a verified OTP device (django-otp's OTPAdminSite), as the
# django-otp docs suggest: swap the default site's class so every registration stays.
admin.site.__class__ = AlatauAdminSite

urlpatterns = [
    # First: the merchant API is the busiest prefix, and Django tries patterns in order.
    path("api/v1/", include("merchants.api_urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language for the switcher
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("merchants.urls")),
    path("", include("merchants.web.urls")),
    path("", include("banking.urls")),
]
