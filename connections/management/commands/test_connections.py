import time

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from connections import test_run_services
from connections.models import CheckRun, Connection
from core.errors import ServiceUnavailable
from integrations.models import Integration

ACTOR = "command:test_connections"
BAR_WIDTH = 30
MESSAGE_WIDTH = 70
POLL_SECONDS = 0.5
# Runs whose status one query reads while waiting (keeps the IN list short on any database).
POLL_CHUNK = 500
UNFINISHED = (CheckRun.Status.QUEUED, CheckRun.Status.RUNNING)


def progress_bar(done: int, total: int) -> str:
    """``[###############---------------] 50/100``"""
    filled = BAR_WIDTH * done // total if total else BAR_WIDTH
    return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total}"


def summary_table(runs: list[CheckRun]) -> list[str]:
    def cells(run: CheckRun) -> list[str]:
        message = " ".join((run.message or "").split())
        if len(message) > MESSAGE_WIDTH:
            message = message[: MESSAGE_WIDTH - 1] + "…"
        connection = run.connection
        return [
            connection.integration.display_name,
            f"{connection.connection_name} ({connection.connection_id})",
            run.status,
            "" if run.status_code is None else str(run.status_code),
            "" if run.response_time_ms is None else str(run.response_time_ms),
            message,
        ]

    rows = [["Integration", "Connection", "Status", "Code", "ms", "Message"]]
    rows += [
        cells(run)
        for run in sorted(
            runs, key=lambda r: (r.connection.integration.display_name, r.connection.connection_name)
        )
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


class Command(BaseCommand):
    help = (
        "Test connections in bulk: the active connections of a user, of an integration, or all of "
        "them. Runs the tests here, CONCURRENCY at a time, or with --async on the Celery workers, "
        "then prints a summary table. Exits with an error if any test failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", help="Only this user's connections (userId)")
        parser.add_argument("--integration", help="Only connections to this integration (integrationId)")
        parser.add_argument("--all", action="store_true", help="Every active connection")
        parser.add_argument(
            "--async",
            dest="use_workers",
            action="store_true",
            help="Queue the tests for the workers and wait",
        )
        parser.add_argument(
            "--concurrency", type=int, default=20, help="Tests at once when run here (default 20)"
        )
        parser.add_argument(
            "--timeout", type=float, default=600, help="Seconds to wait for the workers (default 600)"
        )

    def handle(self, *args, user, integration, all, use_workers, concurrency, timeout, **options):
        if not (user or integration or all):
            raise CommandError(
                "Say which connections to test: --user USER_ID, --integration INTEGRATION_ID or --all"
            )
        if concurrency < 1:
            raise CommandError("--concurrency must be at least 1")
        connections = Connection.objects.filter(status=Connection.Status.ACTIVE).select_related(
            "integration", "user"
        )
        if user:
            if not User.objects.filter(user_id=user).exists():
                raise CommandError(f"No user with userId '{user}'")
            connections = connections.filter(user__user_id=user)
        if integration:
            if not Integration.objects.filter(pk=integration).exists():
                raise CommandError(f"No integration '{integration}'")
            connections = connections.filter(integration_id=integration)
        connections = list(connections.order_by("integration_id", "connection_name", "pk"))
        if not connections:
            self.stdout.write("No active connections to test.")
            return

        self.stdout.write(
            f"Testing {len(connections)} connection(s) {'on the workers' if use_workers else 'here'}…"
        )
        runs = self._on_workers(connections, timeout) if use_workers else self._here(connections, concurrency)
        self._summary(runs)

    def _progress(self, done: int, total: int, last: list[int]) -> None:
        # On a terminal the bar redraws in place; in a log it gets a line whenever it grows.
        tty = self.stdout.isatty()
        filled = BAR_WIDTH * done // total
        if tty:
            self.stdout.write("\r" + progress_bar(done, total), ending="\n" if done == total else "")
        elif filled != last[0] or done == total:
            self.stdout.write(progress_bar(done, total))
        last[0] = filled
        self.stdout.flush()

    def _here(self, connections: list[Connection], concurrency: int) -> list[CheckRun]:
        done, last = 0, [-1]
        self._progress(0, len(connections), last)

        def finished(run: CheckRun) -> None:
            nonlocal done
            done += 1
            self._progress(done, len(connections), last)

        return test_run_services.test_run_create_many(
            connections=connections,
            actor=ACTOR,
            trigger=CheckRun.Trigger.COMMAND,
            concurrency=concurrency,
            on_finished=finished,
        )

    def _on_workers(self, connections: list[Connection], timeout: float) -> list[CheckRun]:
        try:
            runs = test_run_services.test_run_enqueue_many(
                connections=connections, actor=ACTOR, trigger=CheckRun.Trigger.COMMAND
            )
        except ServiceUnavailable as exc:
            raise CommandError(f"{exc.message} ({exc.error})") from None
        waiting = [run.pk for run in runs]
        last = [-1]
        self._progress(0, len(runs), last)
        ends = time.monotonic() + timeout
        while waiting and time.monotonic() < ends:
            time.sleep(POLL_SECONDS)
            waiting = [
                pk
                for start in range(0, len(waiting), POLL_CHUNK)
                for pk in CheckRun.objects.filter(
                    pk__in=waiting[start : start + POLL_CHUNK], status__in=UNFINISHED
                ).values_list("pk", flat=True)
            ]
            self._progress(len(runs) - len(waiting), len(runs), last)
        if waiting:
            self.stdout.write("")
        by_pk = {run.pk: run for run in CheckRun.objects.filter(pk__in=[run.pk for run in runs])}
        for run in runs:
            # The connections were loaded with their integrations already.
            by_pk[run.pk].connection = run.connection
        return [by_pk[run.pk] for run in runs]

    def _summary(self, runs: list[CheckRun]) -> None:
        self.stdout.write("")
        for line in summary_table(runs):
            self.stdout.write(line)
        failed = sum(run.status == CheckRun.Status.ERROR for run in runs)
        unfinished = sum(run.status in UNFINISHED for run in runs)
        passed = len(runs) - failed - unfinished
        self.stdout.write(
            f"\n{len(runs)} tested: {passed} succeeded, {failed} failed"
            + (f", {unfinished} not finished (still queued or running)" if unfinished else "")
            + "."
        )
        if failed or unfinished:
            raise CommandError(f"{failed + unfinished} of {len(runs)} connection test(s) did not succeed")
