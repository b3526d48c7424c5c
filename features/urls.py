from django.urls import path

from features import views

app_name = "features"

urlpatterns = [
    path("features/", views.feature_index, name="index"),
    path("integrations/<str:integration_id>/features", views.feature_list, name="list"),
    path("integrations/<str:integration_id>/add-feature", views.feature_add, name="add"),
    path("integrations/<str:integration_id>/features/<str:mapping_id>/edit", views.feature_edit, name="edit"),
    path(
        "integrations/<str:integration_id>/features/<str:mapping_id>/delete",
        views.feature_delete,
        name="delete",
    ),
]
