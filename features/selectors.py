from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from core.errors import NotFound
from features.models import FeatureMapping, FeatureTemplate
from integrations.models import Integration


def feature_template_list() -> QuerySet[FeatureTemplate]:
    return FeatureTemplate.objects.order_by("name", "id")


def feature_template_get(*, template_id: str) -> FeatureTemplate:
    template = FeatureTemplate.objects.filter(pk=template_id).first()
    if template is None:
        raise NotFound("Feature template not found")
    return template


def feature_integration_get(*, integration_id: str) -> Integration:
    """The integration a feature mapping URL names (any status: operators prepare features early)."""
    integration = Integration.objects.filter(pk=integration_id).first()
    if integration is None:
        raise NotFound("Integration not found")
    return integration


def feature_mapping_list(*, integration: Integration) -> QuerySet[FeatureMapping]:
    return integration.feature_mappings.select_related("feature_template").order_by("created_at", "id")


def feature_mapping_get(*, integration: Integration, mapping_id: str) -> FeatureMapping:
    mapping = feature_mapping_list(integration=integration).filter(pk=mapping_id).first()
    if mapping is None:
        raise NotFound("Feature mapping not found")
    return mapping


def feature_integration_list() -> QuerySet[Integration]:
    """Every integration with its number of features and of active ones, for the operators' index."""
    return Integration.objects.annotate(
        feature_count=Count("feature_mappings"),
        active_feature_count=Count("feature_mappings", filter=Q(feature_mappings__status="active")),
    ).order_by("display_name", "id")
