from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.api.views import ApiNotFound

api_patterns = [
    path("", include("accounts.api.urls")),
    path("", include("integrations.api.urls")),
    path("", include("connections.api.urls")),
    path("", include("features.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("api/", include(api_patterns)),
    re_path(r"^api/", ApiNotFound.as_view()),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("integrations.urls")),
    path("", include("connections.urls")),
    path("", include("features.urls")),
]

handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
