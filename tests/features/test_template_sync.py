import json
import shutil

import pytest
from django.core.management import CommandError, call_command

from features.models import FeatureTemplate
from features.services import feature_template_sync
from features.template_files import TEMPLATES_DIR, load_template_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def templates_dir(tmp_path):
    directory = tmp_path / "templates_data"
    shutil.copytree(TEMPLATES_DIR, directory)
    return directory


def test_shipped_files_are_valid_and_at_least_eight():
    files = load_template_files()
    assert len(files) >= 8
    contact = next(f for f in files if f.document["id"] == "create_contact").document
    assert contact["name"] == "Create Contact"
    assert contact["fields"]["first_name"] == {
        "type": "static",
        "label": "First Name",
        "required": True,
        "fieldType": "string",
        "htmlType": "text",
        "fillBy": "User",
    }


def test_migrate_loaded_the_templates():
    assert FeatureTemplate.objects.filter(pk="create_contact").exists()
    assert FeatureTemplate.objects.count() == len(load_template_files())


def test_sync_is_idempotent(templates_dir):
    first = feature_template_sync(directory=templates_dir)
    before = {t.pk: t.updated_at for t in FeatureTemplate.objects.all()}

    again = feature_template_sync(directory=templates_dir)

    assert first.created == [] and again.created == [] and again.updated == []
    assert sorted(again.unchanged) == sorted(before)
    assert {t.pk: t.updated_at for t in FeatureTemplate.objects.all()} == before


def test_admin_edit_lasts_until_the_file_changes(templates_dir):
    FeatureTemplate.objects.filter(pk="create_deal").update(name="Create Opportunity")

    feature_template_sync(directory=templates_dir)
    assert FeatureTemplate.objects.get(pk="create_deal").name == "Create Opportunity"

    path = templates_dir / "create_deal.json"
    document = json.loads(path.read_text())
    document["description"] = "Changed in the file"
    path.write_text(json.dumps(document))
    report = feature_template_sync(directory=templates_dir)

    assert report.updated == ["create_deal"]
    template = FeatureTemplate.objects.get(pk="create_deal")
    assert (template.name, template.description) == ("Create Deal", "Changed in the file")


def test_new_file_is_created(templates_dir):
    document = json.loads((templates_dir / "create_contact.json").read_text())
    document["id"] = "create_lead"
    (templates_dir / "create_lead.json").write_text(json.dumps(document))

    assert feature_template_sync(directory=templates_dir).created == ["create_lead"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "invalid JSON at line 1, column 2"),
        (
            json.dumps(
                {
                    "id": "create_bad",
                    "name": "Bad",
                    "description": "",
                    "category": "x",
                    "fields": {
                        "kind": {
                            "type": "static",
                            "label": "Kind",
                            "required": True,
                            "fieldType": "string",
                            "htmlType": "select",
                            "fillBy": "User",
                        }
                    },
                }
            ),
            "$.fields.kind.possibleValues is required for htmlType 'select'",
        ),
        (
            json.dumps(
                {
                    "id": "other",
                    "name": "Bad",
                    "description": "",
                    "category": "x",
                    "fields": {
                        "a": {
                            "type": "static",
                            "label": "A",
                            "required": True,
                            "fieldType": "string",
                            "htmlType": "text",
                            "fillBy": "User",
                        }
                    },
                }
            ),
            "$.id 'other' does not match the file name 'create_bad.json'",
        ),
        (
            json.dumps({"id": "create_bad", "name": "Bad", "description": "", "category": "x", "fields": {}}),
            "$.fields must be a non-empty object of field definitions",
        ),
    ],
)
def test_broken_file_fails_with_its_name_and_problem_and_writes_nothing(templates_dir, content, problem):
    (templates_dir / "create_bad.json").write_text(content)
    FeatureTemplate.objects.all().delete()

    with pytest.raises(CommandError) as excinfo:
        call_command("sync_feature_templates", "--directory", str(templates_dir))

    assert "create_bad.json" in str(excinfo.value)
    assert problem in str(excinfo.value)
    assert not FeatureTemplate.objects.exists()


def test_command_reports_counts(capsys):
    call_command("sync_feature_templates")
    assert "0 created, 0 updated" in capsys.readouterr().out

    call_command("sync_feature_templates", "--force")
    assert f"{FeatureTemplate.objects.count()} updated" in capsys.readouterr().out
