from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import health
from .api import api_not_found

api = [
    path("", include("accounts.urls")),
    path("", include("chat.urls")),
    path("", include("comments.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"", api_not_found),  # API clients get JSON, not an HTML error page
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    path("", include("chat.urls_pages")),
]
