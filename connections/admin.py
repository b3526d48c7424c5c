from django.contrib import admin, messages

from connections import encryption
from connections.encryption import CredentialsUnreadable
from connections.forms import CREDENTIAL_PREFIX, VARIABLE_PREFIX, ConnectionAdminForm
from connections.models import AuditEvent, Connection
from connections.services import connection_delete, connection_update


class AuditEventInline(admin.TabularInline):
    model = AuditEvent
    fields = ["created_at", "action", "actor", "fields"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-created_at", "-id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    """Connections are created by their users (API or wizard); operators inspect, fix and
    deactivate them. No page ever shows a stored secret."""

    form = ConnectionAdminForm
    list_display = ["connection_name", "connection_id", "user", "integration", "status", "last_test_status", "updated_at"]
    list_filter = ["integration", "status", "last_test_status"]
    search_fields = ["connection_id", "connection_name", "user__user_id", "user__email"]
    list_select_related = ["user", "integration"]
    ordering = ["-created_at"]
    actions = ["deactivate"]
    inlines = [AuditEventInline]
    readonly_fields = [
        "connection_id", "user", "integration", "auth_method_label", "encryption_key",
        "last_test_status", "last_test_message", "last_test_date", "version", "created_at", "updated_at",
    ]

    def get_fieldsets(self, request, obj=None):
        form = self.get_form(request, obj, fields=None)(instance=obj)
        credential_fields = [name for name in form.fields if name.startswith(CREDENTIAL_PREFIX)]
        variable_fields = [name for name in form.fields if name.startswith(VARIABLE_PREFIX)]
        return [
            (None, {"fields": ["connection_id", "connection_name", "user", "integration", "auth_method_label", "status"]}),
            ("Credentials", {"fields": credential_fields + ["encryption_key"]}),
            ("Configured variables", {"fields": variable_fields}),
            ("Last test", {"fields": ["last_test_status", "last_test_message", "last_test_date"]}),
            ("Record", {"fields": ["version", "created_at", "updated_at"]}),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The per-method inputs are added by the form itself; the admin must not check them
        # against the model's fields.
        kwargs["fields"] = ["connection_name", "status"]
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description="Encryption")
    def encryption_key(self, obj: Connection) -> str:
        try:
            return f"AES-256-GCM with key '{encryption.token_key_id(obj.credentials_encrypted)}'"
        except CredentialsUnreadable as exc:
            return exc.error or exc.message

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # soft delete only: the "Deactivate" action

    def save_model(self, request, obj, form, change):
        # Through the service: row lock, merge, validation, re-encryption and the audit record.
        connection_update(connection=obj, actor=request.user, changes=form.changes())
        obj.refresh_from_db()

    @admin.action(description="Deactivate selected connections")
    def deactivate(self, request, queryset):
        count = 0
        for connection in queryset.filter(status=Connection.Status.ACTIVE):
            connection_delete(connection=connection, actor=request.user)
            count += 1
        self.message_user(request, f"Deactivated {count} connection(s).", messages.SUCCESS)

