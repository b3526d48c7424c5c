from django.apps import AppConfig
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


def check_encryption_keys(app_configs, **kwargs):
    """Refuse to start with malformed ENCRYPTION_KEYS rather than fail on the first request."""
    from connections.encryption import keyring

    try:
        keyring()
    except ImproperlyConfigured as exc:
        return [checks.Critical(str(exc), id="connections.E001")]
    return []


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Connections"

    def ready(self) -> None:
        from connections.health import key_findings, oauth_app_findings
        from connections.metrics import rotation_metrics, test_run_metrics
        from connections.proxy import ProxyGateway
        from core import doctor
        from core.metrics import register_scrape_collector
        from integrations.connection_gateway import connection_gateway_install

        checks.register(check_encryption_keys)
        doctor.register("keys", key_findings)
        doctor.register("oauth apps", oauth_app_findings)
        register_scrape_collector("test_runs", test_run_metrics)
        register_scrape_collector("rotation", rotation_metrics)
        connection_gateway_install(ProxyGateway())
