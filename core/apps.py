from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core import task_signals  # noqa: F401 - connects the Celery signal receivers
        from core.health import broker_metrics
        from core.metrics import register_scrape_collector

        register_scrape_collector("broker", broker_metrics)
