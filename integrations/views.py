import hashlib

from django.http import Http404, HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.views.decorators.http import require_safe

from core.errors import NotFound
from integrations.documents import INTEGRATION_ID
from integrations.icons import fallback_colour, icon_file, monogram_svg
from integrations.selectors import integration_get

ICON_MAX_AGE = 24 * 60 * 60


@require_safe
def integration_icon(request, integration_id: str):
    """The integration's own icon.svg, or a monogram. Public: logos are no secret, and <img>
    tags on any page (admin, wizard, docs) must load it."""
    path = icon_file(integration_id) if INTEGRATION_ID.match(integration_id) else None
    if path is not None:
        svg = path.read_text(encoding="utf-8")
    else:
        try:
            integration = integration_get(integration_id=integration_id)
        except NotFound as exc:
            raise Http404("Integration not found") from exc
        svg = monogram_svg(display_name=integration.display_name, background=fallback_colour(integration.pk))
    etag = '"' + hashlib.sha256(svg.encode()).hexdigest()[:32] + '"'
    response = get_conditional_response(request, etag=etag) or HttpResponse(svg, content_type="image/svg+xml")
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=ICON_MAX_AGE)
    return response
