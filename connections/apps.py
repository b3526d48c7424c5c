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
        from connections.proxy import ProxyGateway
        from integrations.connection_gateway import connection_gateway_install

        checks.register(check_encryption_keys)
        connection_gateway_install(ProxyGateway())
