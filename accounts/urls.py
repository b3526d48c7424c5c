from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.views import SignOutView
from core.views import home

urlpatterns = [
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", SignOutView.as_view(), name="logout"),
]
