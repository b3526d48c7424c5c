from django.urls import path

from connections import views

urlpatterns = [
    # The wizard: the original page name and a clean URL; edit mode has both too.
    path("connect-integration.html", views.connection_wizard, name="connect-integration"),
    path("connections/new/", views.connection_wizard, name="connection-new"),
    path("connections/<str:connection_id>/edit/", views.connection_edit, name="connection-edit"),
    path("connections/<str:connection_id>/review/", views.connection_review, name="connection-review"),
    path("connections/<str:connection_id>/test/", views.connection_test_view, name="connection-test"),
    path("connections/<str:connection_id>/delete/", views.connection_delete_view, name="connection-delete"),
    path(
        "connections/<str:connection_id>/reactivate/",
        views.connection_reactivate_view,
        name="connection-reactivate",
    ),
    path(
        "connections/<str:connection_id>/reconnect/",
        views.connection_reconnect_view,
        name="connection-reconnect",
    ),
    path("oauth/callback", views.oauth_callback, name="oauth-callback"),
    path("my-connections.html", views.my_connections, name="my-connections-html"),
    path("my-connections/", views.my_connections, name="my-connections"),
]
