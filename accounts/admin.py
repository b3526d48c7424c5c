from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.api_keys import api_key_create, api_key_forget, api_key_revoke
from accounts.models import ApiKey, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["-created_at"]
    list_display = ["user_id", "name", "email", "status", "is_staff", "created_at"]
    list_filter = ["status", "is_staff"]
    search_fields = ["user_id", "name", "email"]
    readonly_fields = ["created_at", "updated_at", "last_login"]
    fieldsets = [
        (None, {"fields": ["user_id", "name", "email", "status", "password"]}),
        ("Operator", {"fields": ["is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "created_at", "updated_at"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["user_id", "name", "email", "status", "usable_password", "password1", "password2"],
            },
        ),
    ]
    filter_horizontal = ["groups", "user_permissions"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]

    def get_fields(self, request, obj=None):
        return ["name"] if obj is None else ["name", "prefix", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, raw_key = api_key_create(name=obj.name)
        # The admin goes on with obj (log entry, redirect): make it the saved row.
        obj.pk, obj.prefix, obj.created_at = api_key.pk, api_key.prefix, api_key.created_at
        obj._state.adding = False
        messages.warning(request, f"New API key (shown once, copy it now): {raw_key}")

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        api_key_forget(api_key=obj)

    def delete_queryset(self, request, queryset):
        keys = list(queryset)
        super().delete_queryset(request, queryset)
        for api_key in keys:
            api_key_forget(api_key=api_key)

    @admin.action(description="Revoke selected API keys")
    def revoke_selected(self, request, queryset):
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)
