from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.http import JsonResponse
from django.shortcuts import redirect
from django.views import defaults

from core.api.envelope import error_body, is_api_request, json_error


def bad_request(request, exception):
    if is_api_request(request):
        # BadRequest is raised with a message meant for the caller; other 400s say nothing.
        detail = str(exception) if type(exception) is BadRequest else None
        return JsonResponse(error_body("Bad request", error=detail), status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if is_api_request(request):
        return json_error(403, "Permission denied")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if is_api_request(request):
        return json_error(404, "Not found")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api_request(request):
        return json_error(500, "Internal server error")
    return defaults.server_error(request)


@login_required
def home(request):
    # My Connections is the end user's home; operators reach the admin from the top bar.
    return redirect("my-connections")
