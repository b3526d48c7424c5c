from django.urls import path

from connections.api.views import (
    ConnectionTestViewSet,
    ConnectionViewSet,
    ConnectSessionViewSet,
    OAuthAppViewSet,
    OAuthViewSet,
    UserConnectionsViewSet,
    connection_proxy_view,
)

urlpatterns = [
    path(
        "user-integrations/oauth/start",
        OAuthViewSet.as_view({"post": "start"}, name="OAuth sign-in"),
        name="api-oauth-start",
    ),
    path(
        "integrations/<str:integration_id>/oauth-apps/<str:auth_method_id>",
        OAuthAppViewSet.as_view({"get": "retrieve", "put": "update"}, name="OAuth app"),
        name="api-oauth-app",
    ),
    path(
        "user-integrations/connect",
        ConnectionViewSet.as_view({"post": "connect"}, name="Connect"),
        name="api-connection-connect",
    ),
    path(
        "user-integrations/my-connections",
        ConnectionViewSet.as_view({"get": "my_connections"}, name="My connections"),
        name="api-my-connections",
    ),
    path(
        "user-integrations/<str:connection_id>",
        ConnectionViewSet.as_view(
            {"get": "retrieve", "put": "update", "delete": "destroy"}, name="Connection"
        ),
        name="api-connection-detail",
    ),
    path(
        "user-integrations/<str:connection_id>/history",
        ConnectionViewSet.as_view({"get": "history"}, name="History"),
        name="api-connection-history",
    ),
    path(
        "user-integrations/<str:connection_id>/proxy",
        connection_proxy_view,
        name="api-connection-proxy",
    ),
    path(
        "user-integrations/<str:connection_id>/test",
        ConnectionTestViewSet.as_view({"post": "test"}, name="Test"),
        name="api-connection-test",
    ),
    path(
        "user-integrations/<str:connection_id>/tests",
        ConnectionTestViewSet.as_view({"get": "history"}, name="Test history"),
        name="api-connection-tests",
    ),
    path(
        "connect-sessions",
        ConnectSessionViewSet.as_view({"post": "create"}, name="Connect sessions"),
        name="api-connect-sessions",
    ),
    path(
        "users/<str:user_id>/connections/status",
        UserConnectionsViewSet.as_view({"get": "status"}, name="Connection status"),
        name="api-user-connection-status",
    ),
    path(
        "users/<str:user_id>/connections/import",
        UserConnectionsViewSet.as_view({"post": "import_tokens"}, name="Import tokens"),
        name="api-user-connection-import",
    ),
    path(
        "integrations/<str:integration_id>/account",
        UserConnectionsViewSet.as_view({"get": "account"}, name="Account"),
        name="api-integration-account",
    ),
    path(
        "connection-tests/<str:run_id>",
        ConnectionTestViewSet.as_view({"get": "retrieve"}, name="Test run"),
        name="api-connection-test-detail",
    ),
]
