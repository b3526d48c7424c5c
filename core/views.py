"""Django's error handlers (DEBUG off): on /api/ paths they answer through the API's one
exception handler, elsewhere with Django's pages."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from core.api.envelope import ServerError, api_error_response, is_api_request


def bad_request(request, exception):
    if is_api_request(request):
        return api_error_response(request, exception)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if is_api_request(request):
        return api_error_response(request, exception)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if is_api_request(request):
        return api_error_response(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api_request(request):
        # Django has logged the error already.
        return api_error_response(request, ServerError())
    return defaults.server_error(request)


@csrf_exempt  # like every API view: API clients send no CSRF token
def api_not_found(request):
    """Any /api/ path nothing else matched, so it answers in the envelope also with DEBUG on."""
    return api_error_response(request, Http404())


@login_required
def home(request):
    # My Connections is the end user's home; operators reach the admin from the top bar.
    return redirect("my-connections")
