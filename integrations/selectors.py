from __future__ import annotations

from django.db.models import Q, QuerySet

from core.errors import NotFound
from integrations.documents import INTEGRATION_ID
from integrations.models import Integration


def integration_get(*, integration_id: str) -> Integration:
    integration = None
    if INTEGRATION_ID.match(integration_id):
        integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        raise NotFound("Integration not found")
    return integration


def integration_list(
    *, category: str | None = None, status: str | None = Integration.Status.ACTIVE, q: str | None = None
) -> QuerySet[Integration]:
    """The catalog, active integrations unless asked otherwise (as the seed contract says).

    ``q`` searches name, description, category and id, case-insensitively; every word must appear
    in one of them (the wizard's live filter matches the same text).
    """
    integrations = Integration.objects.all()
    if category:
        integrations = integrations.filter(category=category)
    if status:
        integrations = integrations.filter(status=status)
    for word in (q or "").split():
        integrations = integrations.filter(
            Q(display_name__icontains=word)
            | Q(description__icontains=word)
            | Q(category__icontains=word)
            | Q(id__icontains=word)
        )
    return integrations
