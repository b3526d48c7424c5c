import json
import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from integrations.documents import PROVIDERS_DIR
from integrations.models import Integration
from integrations.services import integration_deactivate

pytestmark = pytest.mark.django_db


def sync(*args) -> str:
    out = StringIO()
    call_command("sync_integrations", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def catalog_copy(tmp_path):
    """A writable copy of the bundled provider folders."""
    target = tmp_path / "providers"
    shutil.copytree(PROVIDERS_DIR, target)
    return target


def write(path, document):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))


def test_migrate_already_loaded_the_bundled_catalog():
    bundled = {path.parent.name for path in PROVIDERS_DIR.glob("*/auth.schema.json")}
    assert bundled <= set(Integration.objects.values_list("pk", flat=True))


def test_sync_creates_then_is_idempotent():
    Integration.objects.all().delete()
    count = len(list(PROVIDERS_DIR.glob("*/auth.schema.json")))

    assert sync() == f"Integrations: {count} created, 0 updated, 0 unchanged.\n"
    assert sync() == f"Integrations: 0 created, 0 updated, {count} unchanged.\n"
    assert Integration.objects.count() == count
    stripe = Integration.objects.get(pk="stripe")
    assert (stripe.display_name, stripe.category, stripe.base_url) == (
        "Stripe",
        "payment",
        "https://api.stripe.com/v1",
    )


def test_sync_updates_changed_files(catalog_copy):
    path = catalog_copy / "stripe" / "auth.schema.json"
    document = json.loads(path.read_text())
    document["description"] = "Payments, rewritten"
    write(path, document)

    output = sync("--directory", str(catalog_copy), "-v", "2")

    assert "1 updated" in output and "  updated: stripe" in output
    assert Integration.objects.get(pk="stripe").description == "Payments, rewritten"


def test_sync_keeps_an_operators_deactivation():
    integration_deactivate(integration=Integration.objects.get(pk="slack"))

    assert "0 updated" in sync()
    assert Integration.objects.get(pk="slack").status == "inactive"


def test_broken_file_fails_with_file_and_json_path_and_loads_nothing(catalog_copy):
    Integration.objects.all().delete()
    broken = catalog_copy / "zendesk" / "auth.schema.json"
    document = json.loads(broken.read_text())
    document["authMethods"][1]["fields"][0]["type"] = "secret-box"
    write(broken, document)

    with pytest.raises(CommandError) as excinfo:
        sync("--directory", str(catalog_copy))

    message = str(excinfo.value)
    assert str(broken) in message
    assert "$.authMethods[1].fields[0].type" in message
    assert Integration.objects.count() == 0, "all or nothing"


def test_invalid_json_names_the_line(catalog_copy):
    broken = catalog_copy / "slack" / "auth.schema.json"
    broken.write_text('{"id": "slack",\n  "displayName": }')

    with pytest.raises(CommandError, match=r"slack/auth.schema.json: invalid JSON at line 2"):
        sync("--directory", str(catalog_copy))


def test_folder_and_id_must_agree(tmp_path):
    document = json.loads((PROVIDERS_DIR / "stripe" / "auth.schema.json").read_text())
    write(tmp_path / "stripe-eu" / "auth.schema.json", document)

    with pytest.raises(CommandError, match=r"\$\.id: 'stripe' does not match its folder 'stripe-eu'"):
        sync("--directory", str(tmp_path))


def test_missing_directory_fails(tmp_path):
    with pytest.raises(CommandError, match="no such directory"):
        sync("--directory", str(tmp_path / "nowhere"))


def test_migrate_reloads_the_catalog_quietly():
    Integration.objects.all().delete()
    out = StringIO()

    call_command("migrate", stdout=out)

    assert Integration.objects.filter(pk="salesforce").exists()
    assert "Integrations:" not in out.getvalue()
