from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from core.monitoring import healthz, metrics_view, readyz
from core.views import api_not_found

# The connections' calls come first: they are most of the API's traffic, and every list tried
# before the one that matches costs time on each request (no two lists match the same path).
api_patterns = [
    path("", include("connections.api.urls")),
    path("", include("accounts.api.urls")),
    path("", include("integrations.api.urls")),
    path("", include("features.api.urls")),
    # The contract is public; calling it is not.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="api-schema"),
    path(
        "docs/",
        # Swagger UI's page carries a small inline <style>; scripts stay 'self' only.
        csp_update({"style-src": ["'self'", "'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[AllowAny])
        ),
        name="api-docs",
    ),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("api/", include(api_patterns)),
    re_path(r"^api/", api_not_found),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("integrations.urls")),
    path("", include("connections.urls")),
    path("", include("features.urls")),
]

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
