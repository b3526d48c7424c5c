import secrets
import time

from django.db import models

from integrations.models import Integration


class FeatureTemplate(models.Model):
    """A generic action ("Create Contact") that integrations implement through feature mappings.

    Loaded from ``features/templates_data/<id>.json`` by ``sync_feature_templates``; operators may
    edit a template in the admin, and the edit lasts until its file changes. ``fields`` is kept as
    a list of ``{"key", …definition}`` because PostgreSQL's jsonb does not keep object key order.
    """

    id = models.CharField(primary_key=True, max_length=64)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=64, db_index=True)
    fields = models.JSONField(default=list)
    source_file = models.CharField(max_length=200, blank=True, editable=False)
    source_digest = models.CharField(
        max_length=64, blank=True, editable=False, help_text="SHA-256 of the file last loaded into this row."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def fields_by_key(self) -> dict[str, dict]:
        return {item["key"]: {k: v for k, v in item.items() if k != "key"} for item in self.fields}


def new_mapping_id() -> str:
    # The contract's shape: mapping_<milliseconds since the epoch>_<random>.
    return f"mapping_{time.time_ns() // 1_000_000}_{secrets.token_hex(3)}"


class FeatureMapping(models.Model):
    """How one integration implements a feature: fields on, handlers, extra fields, endpoint."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    class Method(models.TextChoices):
        GET = "GET"
        POST = "POST"
        PUT = "PUT"
        PATCH = "PATCH"
        DELETE = "DELETE"

    id = models.CharField(primary_key=True, max_length=64, default=new_mapping_id, editable=False)
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="feature_mappings")
    feature_template = models.ForeignKey(
        FeatureTemplate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mappings",
        help_text="Empty for a feature built from scratch.",
    )
    feature_template_name = models.CharField(max_length=200)
    field_mappings = models.JSONField(default=dict, blank=True)
    api_config_id = models.CharField(max_length=64, null=True, blank=True)
    method = models.CharField(max_length=6, choices=Method.choices, default=Method.POST)
    endpoint = models.CharField(max_length=500)
    extra_fields = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.feature_template_name} on {self.integration_id}"
