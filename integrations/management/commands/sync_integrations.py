from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from integrations.documents import PROVIDERS_DIR, DocumentError
from integrations.services import integration_sync_from_files


class Command(BaseCommand):
    help = "Load every integrations/providers/<id>/auth.schema.json into the catalog (create or update)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--directory",
            type=Path,
            default=PROVIDERS_DIR,
            help="Folder of provider folders (default: the bundled catalog)",
        )

    def handle(self, *args, directory: Path, **options):
        if not directory.is_dir():
            raise CommandError(f"{directory}: no such directory")
        try:
            report = integration_sync_from_files(directory=directory)
        except DocumentError as exc:
            raise CommandError(f"Nothing was loaded. {exc}") from exc
        self.stdout.write(
            f"Integrations: {len(report.created)} created, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged."
        )
        if options["verbosity"] >= 2:
            for label, ids in (("created", report.created), ("updated", report.updated)):
                for integration_id in ids:
                    self.stdout.write(f"  {label}: {integration_id}")
