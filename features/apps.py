from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def sync_templates_after_migrate(sender, using="default", **kwargs):
    """Keep the template rows in step with the files after every migrate (and test-database flush)."""
    from features.models import FeatureTemplate
    from features.services import feature_template_sync

    with connections[using].cursor() as cursor:
        tables = connections[using].introspection.table_names(cursor)
    if FeatureTemplate._meta.db_table not in tables:  # migrated back past the initial migration
        return
    feature_template_sync(using=using)


class FeaturesConfig(AppConfig):
    name = "features"
    verbose_name = "Features"

    def ready(self) -> None:
        post_migrate.connect(
            sync_templates_after_migrate, sender=self, dispatch_uid="features.sync_templates"
        )
