from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from uploads.views import media_file

from . import health
from .api import api_not_found
from .metrics import metrics_view

admin.site.site_header = "Zzalu 관리"
admin.site.site_title = "Zzalu 관리"

api = [
    path("", include("accounts.urls")),
    path("", include("chat.urls")),
    path("", include("comments.urls")),
    path("", include("notifications.urls")),
    path("", include("uploads.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view loads its script from a URL: no inline script, so it works under the CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"", api_not_found),  # API clients get JSON, not an HTML error page
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),  # Prometheus; nginx keeps it internal
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's).
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg"), permanent=True)),
    path("media/<path:name>", media_file, name="media-file"),  # uploads (MEDIA_URL)
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    path("", include("accounts.urls_pages")),
    path("", include("comments.urls_pages")),
    path("", include("notifications.urls_pages")),
    path("", include("chat.urls_pages")),
]
