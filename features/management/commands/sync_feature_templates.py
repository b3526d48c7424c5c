from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from features.services import feature_template_sync
from features.template_files import TEMPLATES_DIR, TemplateFileError


class Command(BaseCommand):
    help = (
        "Load features/templates_data/*.json into feature templates. Safe to run again: a template "
        "is only rewritten when its file changed (admin edits last until then), unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Rewrite every template from its file.")
        parser.add_argument(
            "--directory", type=Path, default=TEMPLATES_DIR, help="Where the template files are."
        )

    def handle(self, *args, force: bool, directory: Path, **options):
        try:
            report = feature_template_sync(directory=directory, force=force)
        except TemplateFileError as exc:
            raise CommandError(
                f"Feature template file {exc.source} is broken:\n  " + "\n  ".join(exc.errors)
            ) from exc
        self.stdout.write(
            f"Feature templates: {len(report.created)} created, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged."
        )
        for verb, ids in (("created", report.created), ("updated", report.updated)):
            for template_id in ids:
                self.stdout.write(f"  {verb} {template_id}")
