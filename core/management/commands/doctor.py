from django.core.management.base import BaseCommand, CommandError

from core import doctor

WIDTHS = (16, 5)
INDENT = " " * (sum(WIDTHS) + 2)


class Command(BaseCommand):
    help = (
        "Check a deployment: settings, encryption keys and stored credentials, database, cache, broker, "
        "workers, beat, the outbound policy and OAuth apps. Prints a table with what to fix; exits 1 "
        "when something is wrong (with --strict, also on warnings)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--strict", action="store_true", help="Exit 1 on warnings too.")

    def handle(self, *args, strict: bool, **options):
        findings = doctor.run_all()
        self.stdout.write(self._row("Check", "State", "Detail (and what to fix)"))
        self.stdout.write(self._row("-" * WIDTHS[0], "-" * WIDTHS[1], "-" * 24))
        for finding in findings:
            self.stdout.write(self._row(finding.check, finding.level.value, finding.detail))
            if finding.fix:
                self.stdout.write(f"{INDENT}fix: {finding.fix}")
        failed = [f for f in findings if f.level is doctor.Level.FAIL]
        warned = [f for f in findings if f.level is doctor.Level.WARN]
        summary = f"{len(findings)} checks: {len(failed)} failed, {len(warned)} warning(s)."
        if failed or (strict and warned):
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))

    def _row(self, check: str, level: str, detail: str) -> str:
        return f"{check:<{WIDTHS[0]}} {level:<{WIDTHS[1]}} {detail}"
