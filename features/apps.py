from django.apps import AppConfig

from core.catalogs import load_catalog_after_migrate


class FeaturesConfig(AppConfig):
    name = "features"
    verbose_name = "Features"

    def ready(self) -> None:
        # Imported once the models are: services import them.
        from features.services import feature_template_sync

        load_catalog_after_migrate(self, model_name="FeatureTemplate", load=feature_template_sync)
