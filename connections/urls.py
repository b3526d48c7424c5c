from django.urls import path, re_path

from connections import views
from connections.connect import views as connect_views

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
    # Connect sessions (connections/connect/): the host product's one-time link, then in and out.
    re_path(
        r"^connect/(?P<token>cs_[A-Za-z0-9_-]{20,100})$", connect_views.connect_start, name="connect-start"
    ),
    path("connect/", connect_views.connect_entry, name="connect-entry"),
    path("connect/finish/<str:connection_id>/", connect_views.connect_finish, name="connect-finish"),
    path("connect/cancel/", connect_views.connect_cancel, name="connect-cancel"),
]
