"""Writes to the integration catalog. Every document is validated on the way in, whether it
comes from a provider file, the API or the admin; the model's columns are copied from it here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.db import IntegrityError, transaction
from django.urls import reverse

from core.errors import Conflict, ValidationFailed
from integrations.catalog import catalog_changed
from integrations.documents import DOCUMENT_FILE_NAME, PROVIDERS_DIR, document_errors, load_document_file
from integrations.models import Integration


def _validated(document) -> dict:
    errors = document_errors(document)
    if errors:
        raise ValidationFailed(errors)
    return document


def _copy_columns(integration: Integration, document: dict) -> None:
    integration.document = document
    integration.display_name = document["displayName"]
    integration.description = document["description"]
    integration.category = document["category"]
    integration.status = document["status"]
    integration.base_url = document["baseUrl"]
    integration.icon_url = document.get("iconUrl") or reverse("integration-icon", args=[document["id"]])


@transaction.atomic
def integration_create(*, document: dict) -> Integration:
    document = _validated(document)
    if Integration.objects.filter(pk=document["id"]).exists():
        raise Conflict(
            "Integration already exists", error=f"An integration with id '{document['id']}' exists"
        )
    integration = Integration(id=document["id"])
    _copy_columns(integration, document)
    try:
        with transaction.atomic():
            integration.save(force_insert=True)
    except IntegrityError as exc:  # a concurrent create won the race
        raise Conflict("Integration already exists") from exc
    catalog_changed()
    return integration


@transaction.atomic
def integration_update(*, integration: Integration, document: dict) -> Integration:
    """Replace the whole document (the id cannot change)."""
    document = _validated(document)
    if document["id"] != integration.pk:
        raise ValidationFailed([f"$.id: must stay '{integration.pk}'; create a new integration for a new id"])
    _copy_columns(integration, document)
    integration.save()
    catalog_changed()
    return integration


def _has_dependents(integration: Integration) -> bool:
    # Any row of any model pointing at the integration (connections, feature mappings, …),
    # found through Django's reverse relations so that models added later are covered too.
    return any(
        relation.related_model._base_manager.filter(**{relation.field.name: integration}).exists()
        for relation in Integration._meta.related_objects
    )


def integration_is_bundled(integration: Integration) -> bool:
    """Whether a provider file ships this integration (sync_integrations would bring it back)."""
    return (PROVIDERS_DIR / integration.pk / DOCUMENT_FILE_NAME).is_file()


@transaction.atomic
def integration_delete(*, integration: Integration) -> bool:
    """Delete the integration, or deactivate it when that would destroy connections (or when a
    provider file would recreate it). Returns True when it was deleted."""
    if _has_dependents(integration) or integration_is_bundled(integration):
        integration_deactivate(integration=integration)
        return False
    integration.delete()
    catalog_changed()
    return True


@transaction.atomic
def integration_deactivate(*, integration: Integration) -> Integration:
    if integration.status != Integration.Status.INACTIVE:
        _copy_columns(integration, {**integration.document, "status": Integration.Status.INACTIVE})
        integration.save()
        catalog_changed()
    return integration


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@transaction.atomic
def integration_sync_from_files(*, directory: Path = PROVIDERS_DIR) -> SyncReport:
    """Load every ``<directory>/<id>/auth.schema.json`` into the catalog, all or nothing.

    The files win over the database, except for ``status`` of an integration that already
    exists: switching an integration off (admin, API, a delete that had to deactivate) is an
    operator's decision that a deploy must not undo. A broken file raises ``DocumentError``
    naming the file and the JSON path of the problem, before anything is written.
    """
    documents = [load_document_file(path) for path in sorted(directory.glob(f"*/{DOCUMENT_FILE_NAME}"))]
    existing = Integration.objects.in_bulk([document["id"] for document in documents])
    report = SyncReport()
    for document in documents:
        integration = existing.get(document["id"])
        if integration is None:
            integration = Integration(id=document["id"])
            _copy_columns(integration, document)
            integration.save(force_insert=True)
            report.created.append(integration.pk)
            continue
        document = {**document, "status": integration.status}
        if document == integration.document:
            report.unchanged.append(integration.pk)
            continue
        _copy_columns(integration, document)
        integration.save()
        report.updated.append(integration.pk)
    if report.created or report.updated:
        catalog_changed()
    return report
