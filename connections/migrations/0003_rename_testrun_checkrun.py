from django.db import migrations


class Migration(migrations.Migration):
    """TestRun becomes CheckRun: pytest collected every class named Test*, models included."""

    dependencies = [("connections", "0002_test_runs_and_health")]

    operations = [
        migrations.RenameModel("TestRun", "CheckRun"),
        migrations.AlterModelOptions(
            name="checkrun", options={"ordering": ["-queued_at", "-id"], "verbose_name": "test run"}
        ),
    ]
