from django.contrib import messages
from django.contrib.auth import views as auth_views


class SignOutView(auth_views.LogoutView):
    """Django's logout, then a word on the sign-in page so the user knows it worked."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You are signed out.")
        return response
