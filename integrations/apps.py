from django.apps import AppConfig

from core.catalogs import load_catalog_after_migrate


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integration catalog"

    def ready(self) -> None:
        # Imported once the models are: services import them.
        from integrations.services import integration_sync_from_files

        load_catalog_after_migrate(self, model_name="Integration", load=integration_sync_from_files)
