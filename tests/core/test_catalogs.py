"""The bundled catalogs are loaded by every migrate and left alone when their tables are gone."""

import pytest
from django.core.management import call_command
from django.db import connection

from features.models import FeatureTemplate
from features.template_files import TEMPLATES_DIR
from integrations.documents import PROVIDERS_DIR
from integrations.models import Integration


@pytest.mark.django_db(transaction=True)
def test_migrating_features_back_to_zero_and_forward_reloads_their_templates():
    call_command("migrate", "features", "zero", verbosity=0)
    assert FeatureTemplate._meta.db_table not in connection.introspection.table_names()

    call_command("migrate", "features", verbosity=0)

    assert FeatureTemplate.objects.count() == len(list(TEMPLATES_DIR.glob("*.json")))
    assert Integration.objects.count() == len(list(PROVIDERS_DIR.glob("*/auth.schema.json")))


@pytest.mark.django_db(transaction=True)
def test_a_migrate_restores_catalog_rows_deleted_by_hand():
    Integration.objects.all().delete()
    FeatureTemplate.objects.all().delete()

    call_command("migrate", verbosity=0)

    assert Integration.objects.count() == len(list(PROVIDERS_DIR.glob("*/auth.schema.json")))
    assert FeatureTemplate.objects.count() == len(list(TEMPLATES_DIR.glob("*.json")))
