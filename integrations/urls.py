from django.urls import path

from integrations import views

urlpatterns = [
    path("integrations/<str:integration_id>/icon.svg", views.integration_icon, name="integration-icon"),
]
