"""connections.test_run_services and test_run_schedule: tests run now and queued, their records, retries, the sweeper and the
schedule — against the local provider over real sockets."""

import logging
from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections import encryption, selectors, test_run_schedule, test_run_services
from connections.models import AuditEvent, CheckRun, Connection
from connections.tasks import execute_test_run
from core.errors import ApplicationError, NotFound
from tests.connections.factories import local_connection, local_provider
from tests.connections.task_queue import clear_published, published_messages
from tests.provider_server import BEARER_TOKEN, PASSWORD, USERNAME

pytestmark = pytest.mark.django_db

WRONG_TOKEN = "wrong-token-Qx81Lm"
Status = CheckRun.Status


@pytest.fixture
def local(provider_server, allow_local_provider):
    return local_provider(provider_server.origin)


@pytest.fixture
def queue():
    clear_published()
    yield
    clear_published()


@contextmanager
def first_record_fails(fault: Exception):
    """Recording an outcome raises ``fault`` the first time, and works from then on."""
    record = test_run_services._record
    faults = iter([fault])

    def flaky_record(**kwargs):
        pending = next(faults, None)
        if pending:
            raise pending
        return record(**kwargs)

    with mock.patch.object(test_run_services, "_record", side_effect=flaky_record):
        yield


def minutes_later(minutes: float):
    return timezone.now() + timedelta(minutes=minutes)


# --- Tests run now


def test_a_passing_test_is_recorded_on_the_run_and_the_connection(local, user, provider_server):
    connection = local_connection(local, user=user)

    run = test_run_services.test_run_create(connection=connection, actor=user)

    assert run.status == Status.SUCCESS
    assert (run.status_code, run.message, run.error_message) == (200, "Connection successful", None)
    assert run.endpoint == provider_server.url("/bearer")
    assert 0 <= run.response_time_ms < 5000
    assert run.started_at <= run.finished_at
    assert (run.trigger, run.requested_by, run.attempts) == ("api", f"user:{user.user_id}", 1)
    connection.refresh_from_db()
    assert (connection.last_test_status, connection.last_test_message) == ("success", "Connection successful")
    assert connection.last_test_date == run.started_at
    assert connection.version == 1, "a test result leaves the ETag alone"
    event = connection.audit_events.get()
    assert (event.action, event.actor) == (AuditEvent.Action.TEST, f"user:{user.user_id}")


def test_bad_credentials_fail_with_the_status_and_a_useful_message_without_the_secret(local, caplog):
    connection = local_connection(local, credentials={"token": WRONG_TOKEN})
    caplog.set_level(logging.DEBUG)

    run = test_run_services.test_run_create(connection=connection, actor="tests")

    assert (run.status, run.status_code) == (Status.ERROR, 401)
    assert run.error_message == run.message
    assert run.message.startswith("Invalid credentials. The service answered 401 Unauthorized")
    # The provider echoes the token back; it is scrubbed everywhere.
    row = CheckRun.objects.filter(pk=run.pk).values().get()
    assert WRONG_TOKEN not in repr(row)
    assert WRONG_TOKEN not in caplog.text
    connection.refresh_from_db()
    assert (connection.last_test_status, connection.consecutive_failures) == ("error", 1)
    assert WRONG_TOKEN not in connection.last_test_message


def test_basic_auth_is_tested_on_its_own_test_request(local, provider_server):
    connection = local_connection(
        local, auth_method_id="basic", credentials={"username": USERNAME, "password": PASSWORD}
    )

    run = test_run_services.test_run_create(connection=connection, actor="tests")

    assert (run.status, run.endpoint) == (Status.SUCCESS, provider_server.url("/basic"))


def test_repeated_failures_make_the_connection_need_attention_until_a_success(local, settings):
    settings.CONNECTION_ATTENTION_AFTER = 3
    connection = local_connection(local, credentials={"token": WRONG_TOKEN})
    for expected in (1, 2, 3):
        test_run_services.test_run_create(connection=connection, actor="tests")
        connection.refresh_from_db()
        assert connection.consecutive_failures == expected
        assert connection.needs_attention is (expected >= 3)

    fixed = encryption.encrypt_json({"token": BEARER_TOKEN}, bound_to=connection.connection_id)
    Connection.objects.filter(pk=connection.pk).update(credentials_encrypted=fixed)
    connection.refresh_from_db()
    test_run_services.test_run_create(connection=connection, actor="tests")
    connection.refresh_from_db()
    assert (connection.consecutive_failures, connection.needs_attention) == (0, False)


def test_an_inactive_connection_is_not_tested(local):
    connection = local_connection(local, status=Connection.Status.INACTIVE)

    with pytest.raises(ApplicationError, match="Connection is inactive and cannot be tested"):
        test_run_services.test_run_create(connection=connection, actor="tests")
    with pytest.raises(ApplicationError):
        test_run_services.test_run_enqueue(connection=connection, actor="tests")
    assert not CheckRun.objects.exists()


def test_unreadable_credentials_are_a_failed_test_not_a_crash(local):
    connection = local_connection(local)
    Connection.objects.filter(pk=connection.pk).update(credentials_encrypted="v1.gone.AAAA")
    connection.refresh_from_db()

    run = test_run_services.test_run_create(connection=connection, actor="tests")

    assert (run.status, run.status_code, run.endpoint) == (Status.ERROR, None, None)
    assert run.message == "The stored credentials could not be read: enter them again"


def test_an_older_run_finishing_last_does_not_overwrite_a_newer_result(local):
    connection = local_connection(local)
    newer = test_run_services.test_run_create(connection=connection, actor="tests")
    older = CheckRun.objects.create(
        connection=connection,
        status=Status.RUNNING,
        started_at=newer.started_at - timedelta(seconds=5),
        requested_by="tests",
        trigger="api",
    )
    bad = test_run_services._outcome_without_call("late")

    test_run_services._record(finished=[(older, bad)])

    connection.refresh_from_db()
    assert (connection.last_test_status, connection.last_test_date) == ("success", newer.started_at)
    assert CheckRun.objects.get(pk=older.pk).status == Status.ERROR


def test_bulk_tests_run_their_provider_calls_at_once(provider_server, allow_local_provider):
    # Each call is answered only once all ten are in at once (an error after 10 s if not).
    together = local_provider(provider_server.origin, slow_ms=10_000, together=10)
    connections = [local_connection(together, auth_method_id="slow") for _ in range(10)]
    finished = []

    runs = test_run_services.test_run_create_many(
        connections=Connection.objects.filter(pk__in=[c.pk for c in connections]).select_related(
            "integration"
        ),
        actor="command:tests",
        trigger="command",
        concurrency=10,
        on_finished=finished.append,
    )

    assert [r.status for r in runs] == [Status.SUCCESS] * 10, [r.message for r in runs]
    assert len(finished) == 10
    assert CheckRun.objects.filter(status=Status.SUCCESS, trigger="command").count() == 10


# --- Queued tests


def test_queued_test_publishes_only_the_run_id_after_commit(local, queue, django_capture_on_commit_callbacks):
    connection = local_connection(local)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = test_run_services.test_run_enqueue(connection=connection, actor="tests")
    assert published_messages() == [], "nothing is sent before the transaction commits"
    assert (run.status, run.attempts, run.started_at) == (Status.QUEUED, 0, None)

    for callback in callbacks:
        callback()

    (message,) = published_messages()
    assert (message.task, message.args) == ("connections.execute_test_run", [run.run_id])
    assert BEARER_TOKEN not in message.raw
    assert connection.credentials_encrypted not in message.raw


def test_a_queued_test_takes_four_statements(local, django_assert_max_num_queries):
    # Claim and read the run, read the connection (and the catalog's revision), record the
    # outcome on the run and on the connection; the transaction's savepoint and its release.
    first, second = (local_connection(local) for _ in range(2))
    runs = [
        CheckRun.objects.create(connection=c, requested_by="tests", trigger="api") for c in (first, second)
    ]
    test_run_services.test_run_execute_queued(run_id=runs[0].run_id)  # loads the catalog

    with django_assert_max_num_queries(6):
        finished = test_run_services.test_run_execute_queued(run_id=runs[1].run_id)

    assert finished.status == Status.SUCCESS
    second.refresh_from_db()
    assert (second.last_test_status, second.last_test_date) == (Status.SUCCESS, finished.started_at)


def test_a_queued_run_is_run_once(local, provider_server):
    connection = local_connection(local)
    run = CheckRun.objects.create(connection=connection, requested_by="tests", trigger="api")

    finished = test_run_services.test_run_execute_queued(run_id=run.run_id)
    again = test_run_services.test_run_execute_queued(run_id=run.run_id)

    assert finished.status == Status.SUCCESS and again is None
    run.refresh_from_db()
    assert (run.status, run.attempts) == (Status.SUCCESS, 1)
    assert [hit for hit in provider_server.hits if hit[1] == "/bearer"]


def test_a_run_taken_by_another_worker_is_skipped(local, provider_server):
    connection = local_connection(local)
    run = CheckRun.objects.create(
        connection=connection,
        requested_by="tests",
        trigger="api",
        status=Status.RUNNING,
        started_at=timezone.now(),
        attempts=1,
    )
    hits = len(provider_server.hits)

    assert test_run_services.test_run_execute_queued(run_id=run.run_id) is None
    assert len(provider_server.hits) == hits
    assert CheckRun.objects.get(pk=run.pk).status == Status.RUNNING


def test_a_connection_deactivated_after_queueing_is_not_called(local, provider_server):
    connection = local_connection(local)
    run = CheckRun.objects.create(connection=connection, requested_by="tests", trigger="api")
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.INACTIVE)
    hits = len(provider_server.hits)

    finished = test_run_services.test_run_execute_queued(run_id=run.run_id)

    assert (finished.status, finished.message) == (
        Status.ERROR,
        "The connection was deactivated before the test ran",
    )
    assert len(provider_server.hits) == hits
    connection.refresh_from_db()
    assert connection.last_test_status is None and connection.consecutive_failures == 0


def test_runs_queued_together_travel_in_chunks_of_run_ids(local, queue, django_capture_on_commit_callbacks):
    connections = [local_connection(local) for _ in range(test_run_services.TEST_RUN_CHUNK + 2)]
    with django_capture_on_commit_callbacks(execute=True):
        runs = test_run_services.test_run_enqueue_many(
            connections=connections, actor="tests", trigger="command"
        )

    messages = published_messages()
    run_ids = [run.run_id for run in runs]
    chunks = [run_ids[: test_run_services.TEST_RUN_CHUNK], run_ids[test_run_services.TEST_RUN_CHUNK :]]
    assert sorted((m.task, m.args) for m in messages) == sorted(
        ("connections.execute_test_run", chunk) for chunk in chunks
    )
    assert [m.eta for m in messages] == [None, None], "sent to start at once"
    assert not any(BEARER_TOKEN in m.raw or connections[0].credentials_encrypted in m.raw for m in messages)


def test_runs_spread_over_time_share_a_message_only_when_due_within_a_second(queue):
    run_ids = [f"run_{n}" for n in range(25)]
    before = timezone.now()

    test_run_services.test_run_send(run_ids=run_ids, spread_seconds=5)  # one run every 0.2 s

    messages = sorted(published_messages(), key=lambda m: m.eta or "")
    assert [m.args for m in messages] == [run_ids[start : start + 5] for start in range(0, 25, 5)]
    delays = [round((datetime.fromisoformat(m.eta) - before).total_seconds()) for m in messages[1:]]
    assert (messages[0].eta, delays) == (None, [1, 2, 3, 4])


def test_a_chunk_is_taken_up_and_read_in_one_statement_each_and_its_calls_made_at_once(
    local, provider_server
):
    # Each call is answered only once all four are in at once (an error after 10 s if not).
    together = local_provider(provider_server.origin, slow_ms=10_000, together=4)
    called = [local_connection(together, auth_method_id="slow") for _ in range(4)]
    deactivated = local_connection(together, auth_method_id="slow")
    runs = [
        CheckRun.objects.create(connection=c, requested_by="tests", trigger="command")
        for c in [*called, deactivated]
    ]
    Connection.objects.filter(pk=deactivated.pk).update(status=Connection.Status.INACTIVE)
    done = test_run_services.test_run_create(connection=local_connection(local), actor="tests")

    with CaptureQueriesContext(db_connection) as queries:
        finished = test_run_services.test_run_execute_queued_many(
            run_ids=[run.run_id for run in runs] + [done.run_id]
        )

    by_pk = {run.pk: run for run in finished}
    assert sorted(by_pk) == sorted(run.pk for run in runs), "the finished run is skipped"
    assert [by_pk[run.pk].status for run in runs[:4]] == [Status.SUCCESS] * 4, [r.message for r in finished]
    assert by_pk[runs[4].pk].message == "The connection was deactivated before the test ran"
    statements = [query["sql"] for query in queries.captured_queries]
    assert len([sql for sql in statements if "RETURNING" in sql]) == 1
    table = Connection._meta.db_table
    assert len([sql for sql in statements if sql.startswith("SELECT") and f'FROM "{table}"' in sql]) == 1
    assert CheckRun.objects.get(pk=done.pk).attempts == 1


def test_a_transient_fault_puts_a_chunks_unrecorded_runs_back_and_the_retry_finishes_them(local):
    runs = [
        CheckRun.objects.create(connection=local_connection(local), requested_by="tests", trigger="api")
        for _ in range(3)
    ]
    with first_record_fails(OperationalError("database is locked")):
        result = execute_test_run.apply(args=[run.run_id for run in runs])

    assert result.successful()
    assert (
        sorted(CheckRun.objects.filter(pk__in=[r.pk for r in runs]).values_list("status", "attempts"))
        == [(Status.SUCCESS, 2)] * 3
    )


def test_the_task_is_late_acknowledged_time_limited_and_retries_a_bounded_number_of_times():
    assert execute_test_run.acks_late is True
    assert execute_test_run.reject_on_worker_lost is True
    assert execute_test_run.autoretry_for == (OperationalError, InterfaceError)
    assert execute_test_run.max_retries == 3
    assert (execute_test_run.retry_backoff, execute_test_run.retry_backoff_max) == (2, 60)
    assert execute_test_run.retry_jitter is True
    from config.celery import app

    assert (app.conf.task_soft_time_limit, app.conf.task_time_limit) == (90, 120)


def test_a_transient_database_fault_is_retried_and_the_run_still_finishes(local):
    run = CheckRun.objects.create(connection=local_connection(local), requested_by="tests", trigger="api")
    with first_record_fails(OperationalError("database is locked")):
        result = execute_test_run.apply(args=[run.run_id])

    assert result.successful()
    run.refresh_from_db()
    assert (run.status, run.attempts) == (Status.SUCCESS, 2)


def test_a_lasting_database_fault_gives_up_after_the_retries_and_leaves_the_run_queued(local):
    run = CheckRun.objects.create(connection=local_connection(local), requested_by="tests", trigger="api")

    with mock.patch.object(
        test_run_services, "_record", side_effect=OperationalError("server closed the connection")
    ):
        result = execute_test_run.apply(args=[run.run_id])

    assert isinstance(result.result, OperationalError)
    run.refresh_from_db()
    # First try and three retries; back in the queue for the sweeper to send again later.
    assert (run.status, run.attempts, run.started_at) == (Status.QUEUED, 4, None)


def test_a_provider_error_is_a_result_and_never_retried(local):
    connection = local_connection(local, credentials={"token": WRONG_TOKEN})
    run = CheckRun.objects.create(connection=connection, requested_by="tests", trigger="api")

    result = execute_test_run.apply(args=[run.run_id])

    assert result.successful()
    run.refresh_from_db()
    assert (run.status, run.status_code, run.attempts) == (Status.ERROR, 401, 1)


# --- The sweeper


def test_the_sweeper_fails_runs_whose_worker_died(local, settings):
    connection = local_connection(local)
    stuck = CheckRun.objects.create(
        connection=connection,
        requested_by="tests",
        trigger="api",
        status=Status.RUNNING,
        started_at=timezone.now(),
    )
    still_in_time = settings.CELERY_TASK_TIME_LIMIT / 60

    assert test_run_schedule.test_run_sweep(now=minutes_later(still_in_time)).abandoned == 0
    result = test_run_schedule.test_run_sweep(now=minutes_later(still_in_time + 1.1))

    assert result.abandoned == 1
    stuck.refresh_from_db()
    assert stuck.status == Status.ERROR and stuck.finished_at is not None
    assert stuck.error_message == (
        "The test did not finish: its worker stopped or passed the 120 s time limit. Run it again."
    )
    connection.refresh_from_db()
    assert connection.last_test_status is None, "our fault, not the connection's"


def test_the_sweeper_sends_old_queued_runs_again_and_expires_forgotten_ones(local, queue, settings):
    settings.CONNECTION_TEST_REQUEUE_MINUTES = 10
    settings.CONNECTION_TEST_EXPIRE_MINUTES = 60
    connection = local_connection(local)
    fresh = CheckRun.objects.create(connection=connection, requested_by="tests", trigger="api")
    lost = CheckRun.objects.create(
        connection=connection,
        requested_by="tests",
        trigger="api",
        queued_at=timezone.now() - timedelta(minutes=11),
    )
    forgotten = CheckRun.objects.create(
        connection=connection,
        requested_by="tests",
        trigger="api",
        queued_at=timezone.now() - timedelta(minutes=61),
    )

    result = test_run_schedule.test_run_sweep()

    assert (result.requeued, result.expired, result.abandoned) == (1, 1, 0)
    assert [m.args for m in published_messages()] == [[lost.run_id]]
    lost.refresh_from_db()
    forgotten.refresh_from_db()
    assert lost.status == Status.QUEUED and lost.requeued_at is not None
    assert forgotten.status == Status.ERROR
    assert forgotten.message == "The test was not run: no worker took it up within 60 minutes."
    assert CheckRun.objects.get(pk=fresh.pk).requeued_at is None
    # Sent again once per CONNECTION_TEST_REQUEUE_MINUTES, not on every pass.
    assert test_run_schedule.test_run_sweep().requeued == 0
    assert test_run_schedule.test_run_sweep(now=minutes_later(10.5)).requeued == 2


# --- The schedule


def test_the_schedule_retests_stale_active_connections_spread_over_time(
    local, queue, settings, django_capture_on_commit_callbacks
):
    settings.CONNECTION_RETEST_HOURS = 24
    settings.CONNECTION_RETEST_BATCH_SIZE = 3
    settings.CONNECTION_RETEST_SPREAD_SECONDS = 300
    day_ago = timezone.now() - timedelta(hours=25)
    stale = [local_connection(local) for _ in range(4)]
    Connection.objects.filter(pk__in=[c.pk for c in stale]).update(created_at=day_ago)
    Connection.objects.filter(pk=stale[0].pk).update(
        last_test_date=day_ago - timedelta(hours=5)
    )  # longest ago
    Connection.objects.filter(pk=stale[1].pk).update(last_test_date=day_ago)
    recent = local_connection(local)
    Connection.objects.filter(pk=recent.pk).update(created_at=day_ago, last_test_date=timezone.now())
    inactive = local_connection(local, status=Connection.Status.INACTIVE)
    Connection.objects.filter(pk=inactive.pk).update(created_at=day_ago)
    local_connection(local)  # created just now: not due yet

    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        runs = test_run_schedule.test_run_enqueue_due()

    assert len(runs) == 3
    assert {r.connection_id for r in runs} <= {c.pk for c in stale}
    assert runs[0].connection_id == stale[0].pk
    assert {(r.trigger, r.requested_by) for r in runs} == {("schedule", "schedule")}
    messages = published_messages()
    assert len(messages) == 3
    delays = sorted(
        round((datetime.fromisoformat(m.eta) - before).total_seconds()) for m in messages if m.eta
    )
    assert delays == [100, 200], "300 s spread over 3 runs: the first starts now"
    # The fourth stale one is next time; the pending ones are not queued twice.
    assert len(test_run_schedule.test_run_enqueue_due()) == 1
    assert test_run_schedule.test_run_enqueue_due() == []


def test_history_is_newest_first_and_bounded(local):
    connection = local_connection(local)
    for _ in range(3):
        test_run_services.test_run_create(connection=connection, actor="tests")

    runs = selectors.test_run_list_for_connection(connection=connection, limit=2)

    assert len(runs) == 2
    assert runs[0].queued_at >= runs[1].queued_at
    assert list(CheckRun.objects.order_by("-queued_at", "-id").values_list("pk", flat=True)[:2]) == [
        r.pk for r in runs
    ]


def test_someone_elses_run_is_not_found(local, user, other_user):
    run = test_run_services.test_run_create(
        connection=local_connection(local, user=other_user), actor="tests"
    )

    with pytest.raises(NotFound, match="Test run not found"):
        selectors.test_run_get_for_actor(actor=user, run_id=run.run_id)
    assert selectors.test_run_get_for_actor(actor=other_user, run_id=run.run_id) == run
