from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate


def _sync_catalog_after_migrate(sender, *, using, apps=global_apps, **kwargs) -> None:
    """``migrate`` (and ``flush``) leave the bundled catalog loaded, so a fresh database is ready."""
    # Migrating backwards (e.g. to zero) can leave no catalog table to fill.
    try:
        apps.get_model("integrations", "Integration")
    except LookupError:
        return
    if using != DEFAULT_DB_ALIAS:
        return
    from integrations.services import integration_sync_from_files

    integration_sync_from_files()


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integration catalog"

    def ready(self) -> None:
        post_migrate.connect(_sync_catalog_after_migrate, sender=self)
