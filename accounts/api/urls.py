from django.urls import path

from accounts.api.views import UserViewSet

urlpatterns = [
    path("users", UserViewSet.as_view({"get": "list", "post": "create"}, name="Users"), name="api-users"),
    path(
        "users/<str:user_id>",
        UserViewSet.as_view({"get": "retrieve", "patch": "partial_update"}, name="User"),
        name="api-user-detail",
    ),
]
