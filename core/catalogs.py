"""Catalogs bundled as files (integrations, feature templates) are loaded into their tables after
every ``migrate`` (and every test-database flush), so a fresh database is ready to use."""

from collections.abc import Callable

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate


def load_catalog_after_migrate(app_config: AppConfig, *, model_name: str, load: Callable[[], object]) -> None:
    """Call ``load()`` after each migrate of ``app_config``'s app while ``model_name``'s table exists."""

    def receiver(sender, *, using: str, apps=global_apps, **kwargs) -> None:
        # ``apps`` is the migrated state: without the model (migrated back to zero) there is no table.
        try:
            apps.get_model(app_config.label, model_name)
        except LookupError:
            return
        if using == DEFAULT_DB_ALIAS:
            load()

    post_migrate.connect(receiver, sender=app_config, weak=False, dispatch_uid=f"{app_config.label}.catalog")
