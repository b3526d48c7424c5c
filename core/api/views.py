from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView


class ApiNotFound(APIView):
    """Any /api/ path nothing else matched: 404 in the envelope, also with DEBUG on."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes: list = []
    schema = None

    def _not_found(self, request, *args, **kwargs):
        raise NotFound()

    get = post = put = patch = delete = head = options = _not_found
