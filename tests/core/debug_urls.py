"""A view that fails while holding decrypted credentials, for the DEBUG error page tests."""

from django.urls import include, path

from connections.models import Connection
from connections.selectors import connection_credentials


def failing_view(request):
    connection = Connection.objects.get()
    credentials = connection_credentials(connection=connection)
    values = {"instance_url": "https://mycompany.salesforce.com", **credentials}
    client_secret = credentials["clientSecret"]
    raise RuntimeError(f"the provider refused {len(values)} values, {len(client_secret)} chars")


urlpatterns = [path("fail/", failing_view), path("", include("config.urls"))]
