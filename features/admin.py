from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from features.forms import FeatureTemplateAdminForm
from features.models import FeatureMapping, FeatureTemplate


@admin.register(FeatureTemplate)
class FeatureTemplateAdmin(admin.ModelAdmin):
    form = FeatureTemplateAdminForm
    list_display = ["id", "name", "category", "source_file", "updated_at"]
    list_filter = ["category"]
    search_fields = ["id", "name", "description"]
    readonly_fields = ["source_file", "source_digest", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["id", "name", "description", "category"]}),
        ("Fields", {"fields": ["fields"]}),
        ("Source", {"fields": ["source_file", "source_digest", "created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # The id is what mappings and the API refer to; it is fixed once created.
        return [*self.readonly_fields, "id"] if obj else self.readonly_fields


@admin.register(FeatureMapping)
class FeatureMappingAdmin(admin.ModelAdmin):
    """A list for operators; creating and editing go through the add-feature page's checks."""

    list_display = [
        "id",
        "feature_template_name",
        "integration",
        "method",
        "endpoint",
        "status",
        "updated_at",
    ]
    list_filter = ["status", "method", "integration"]
    search_fields = ["id", "feature_template_name", "endpoint", "integration__id"]
    list_select_related = ["integration"]
    readonly_fields = [
        "id",
        "integration",
        "feature_template",
        "feature_template_name",
        "field_mappings",
        "api_config_id",
        "method",
        "endpoint",
        "extra_fields",
        "status",
        "created_at",
        "updated_at",
        "edit_page",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    @admin.display(description="Edit")
    def edit_page(self, obj):
        url = reverse("features:edit", args=[obj.integration_id, obj.pk])
        return format_html('<a href="{}">Edit on the feature page</a>', url)
