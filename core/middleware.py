"""Request checks that hold for every route, API and pages alike."""

from urllib.parse import unquote_plus

from django.core.exceptions import BadRequest

from core.api.parsers import unstorable_text_problem


class RefuseUnstorableUrls:
    """A NUL character in a URL's path or query string is a 400, before any view sees it.

    No id, filter or page address legitimately holds one, and PostgreSQL cannot store or
    compare it: let through, it would end in a 500 wherever the value reaches a query.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = unquote_plus(request.META.get("QUERY_STRING", ""), errors="replace")
        for where, text in (("path", request.path), ("query string", query)):
            problem = unstorable_text_problem(text)
            if problem:
                raise BadRequest(f"The URL's {where} is not valid: {problem}")
        return self.get_response(request)
