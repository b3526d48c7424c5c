from django.db import models

# How the catalog's category ids read to people; an unknown id is shown capitalised.
CATEGORY_LABELS = {
    "crm": "CRM",
    "devtools": "Developer tools",
    "database": "Databases",
    "communication": "Communication",
    "ecommerce": "E-commerce",
    "marketing": "Marketing",
    "payment": "Payments",
    "productivity": "Productivity",
    "support": "Customer support",
}


def category_label(category: str) -> str:
    return CATEGORY_LABELS.get(category, category.replace("-", " ").replace("_", " ").capitalize())


class Integration(models.Model):
    """A third-party service in the catalog, described by its auth schema document.

    The document (``integrations/providers/<id>/auth.schema.json`` or the API) is the source
    of truth; the columns beside it are copies kept for filtering and listing.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    id = models.CharField(primary_key=True, max_length=64)
    display_name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=64, db_index=True)
    icon_url = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    base_url = models.CharField(max_length=500)
    document = models.JSONField(help_text="The whole auth schema document, validated on the way in.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_name", "id"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def category_label(self) -> str:
        return category_label(self.category)

    @property
    def auth_methods(self) -> list[dict]:
        return self.document.get("authMethods", [])

    def auth_method(self, auth_method_id: str) -> dict | None:
        return next((m for m in self.auth_methods if m.get("id") == auth_method_id), None)


class CatalogRevision(models.Model):
    """One row counting changes to the catalog. Processes keep the catalog in memory
    (``integrations.catalog``) and compare this number, read within their own queries, to know
    when to load it again, so a change made by any process is seen by all at once."""

    number = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"catalog revision {self.number}"
