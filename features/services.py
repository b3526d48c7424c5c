from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from core.errors import ApplicationError
from features.mapping_rules import MappingSpec, mapping_spec
from features.models import FeatureMapping, FeatureTemplate
from features.template_files import TEMPLATES_DIR, fields_as_list, load_template_files
from integrations.models import Integration

INVALID_TEMPLATE = "Invalid feature template ID"


@dataclass
class TemplateSyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def feature_template_sync(
    *, directory: Path = TEMPLATES_DIR, force: bool = False, using: str = "default"
) -> TemplateSyncReport:
    """Load the template files into FeatureTemplate rows; nothing is written if any file is broken.

    A row is rewritten only when its file changed since it was last loaded (or with ``force``), so
    an operator's admin edit lasts until someone edits the file. Rows without a file are kept.
    """
    files = load_template_files(directory)  # raises TemplateFileError naming the file
    report = TemplateSyncReport()
    with transaction.atomic(using=using):
        _sync_rows(files, report, force=force, using=using)
    return report


def _sync_rows(files, report: TemplateSyncReport, *, force: bool, using: str) -> None:
    existing = {
        t.pk: t for t in FeatureTemplate.objects.using(using).filter(pk__in=[f.document["id"] for f in files])
    }
    for template_file in files:
        doc = template_file.document
        values = {
            "name": doc["name"],
            "description": doc["description"],
            "category": doc["category"],
            "fields": fields_as_list(doc["fields"]),
            "source_file": template_file.path.name,
            "source_digest": template_file.digest,
        }
        row = existing.get(doc["id"])
        if row is None:
            FeatureTemplate.objects.using(using).create(id=doc["id"], **values)
            report.created.append(doc["id"])
        elif force or row.source_digest != template_file.digest:
            for name, value in values.items():
                setattr(row, name, value)
            row.save(using=using)
            report.updated.append(doc["id"])
        else:
            report.unchanged.append(doc["id"])


def _template_for(feature_template_id: Any) -> FeatureTemplate | None:
    if feature_template_id is None:
        return None
    template = None
    if isinstance(feature_template_id, str):
        template = FeatureTemplate.objects.filter(pk=feature_template_id).first()
    if template is None:
        raise ApplicationError(INVALID_TEMPLATE)
    return template


def _spec(
    *, feature_template_id, feature_template_name, field_mappings, api_config, extra_fields, status
) -> MappingSpec:
    return mapping_spec(
        template=_template_for(feature_template_id),
        feature_template_name=feature_template_name,
        field_mappings=field_mappings,
        api_config=api_config,
        extra_fields=extra_fields,
        status=status,
    )


def _apply(mapping: FeatureMapping, spec: MappingSpec) -> None:
    mapping.feature_template = spec.feature_template
    mapping.feature_template_name = spec.feature_template_name
    mapping.field_mappings = spec.field_mappings
    mapping.api_config_id = spec.api_config_id
    mapping.method = spec.method
    mapping.endpoint = spec.endpoint
    mapping.extra_fields = spec.extra_fields
    mapping.status = spec.status


def feature_mapping_draft(*, mapping: FeatureMapping, **fields: Any) -> FeatureMapping:
    """``mapping`` with ``fields`` applied and every rule checked, not saved (ValidationFailed)."""
    _apply(mapping, _spec(**fields))
    return mapping


@transaction.atomic
def feature_mapping_update(
    *,
    mapping: FeatureMapping,
    feature_template_id: str | None,
    feature_template_name: str | None = None,
    field_mappings: Any = None,
    api_config: Any = None,
    extra_fields: Any = None,
    status: str = FeatureMapping.Status.ACTIVE,
) -> FeatureMapping:
    """Replaces the whole mapping (PUT semantics); every rule is checked before anything is written."""
    feature_mapping_draft(
        mapping=mapping,
        feature_template_id=feature_template_id,
        feature_template_name=feature_template_name,
        field_mappings=field_mappings,
        api_config=api_config,
        extra_fields=extra_fields,
        status=status,
    )
    mapping.save()  # a new mapping's id has a default, so this inserts it
    return mapping


def feature_mapping_create(*, integration: Integration, **fields: Any) -> FeatureMapping:
    """A new mapping, checked exactly like an update (same arguments); ``feature_template_id`` None
    builds a feature from scratch (extra fields only)."""
    return feature_mapping_update(mapping=FeatureMapping(integration=integration), **fields)


@transaction.atomic
def feature_mapping_delete(*, mapping: FeatureMapping) -> None:
    mapping.delete()
