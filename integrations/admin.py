from django.contrib import admin, messages
from django.utils.html import format_html

from integrations import services
from integrations.forms import IntegrationDocumentForm
from integrations.models import Integration


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationDocumentForm
    list_display = ["icon", "id", "display_name", "category", "status", "base_url", "updated_at"]
    list_display_links = ["id", "display_name"]
    list_filter = ["status", "category"]
    search_fields = ["id", "display_name", "description"]
    readonly_fields = [
        "icon",
        "display_name",
        "category",
        "status",
        "base_url",
        "bundled",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["icon", "display_name", "category", "status", "base_url", "bundled"]}),
        ("Document", {"fields": ["document"]}),
        ("Dates", {"fields": ["created_at", "updated_at"]}),
    ]
    actions = ["deactivate_selected"]

    def get_fieldsets(self, request, obj=None):
        return [("Document", {"fields": ["document"]})] if obj is None else self.fieldsets

    @admin.display(description="")
    def icon(self, obj: Integration):
        return format_html('<img src="{}" width="24" height="24" alt="">', obj.icon_url)

    @admin.display(description="Provider file", boolean=True)
    def bundled(self, obj: Integration) -> bool:
        # A bundled integration is rewritten from its file by sync_integrations on each deploy.
        return services.integration_is_bundled(obj)

    def save_model(self, request, obj, form, change):
        document = form.cleaned_data["document"]
        if change:
            services.integration_update(integration=obj, document=document)
            return
        saved = services.integration_create(document=document)
        # The admin goes on with obj (log entry, redirect): make it the saved row.
        for field in Integration._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    def delete_model(self, request, obj):
        if not services.integration_delete(integration=obj):
            messages.warning(
                request, f"{obj} has connections or ships with the catalog: deactivated, not deleted."
            )

    def delete_queryset(self, request, queryset):
        for integration in queryset:
            self.delete_model(request, integration)

    @admin.action(description="Deactivate selected integrations")
    def deactivate_selected(self, request, queryset):
        for integration in queryset:
            services.integration_deactivate(integration=integration)
        self.message_user(request, f"Deactivated {queryset.count()} integration(s).", messages.SUCCESS)
