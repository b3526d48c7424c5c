"""python manage.py test_connections: bulk tests here (threads) or on a real worker, with a
progress bar and a summary table."""

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from connections.management.commands.test_connections import progress_bar
from connections.models import CheckRun, Connection
from tests.connections.factories import (
    ConnectionFactory,
    integration_from_document,
    local_connection,
    local_provider,
    local_provider_document,
)
from tests.connections.task_queue import REDIS_URL, RealWorker, broker, drop_redis_queue
from tests.provider_server import BEARER_TOKEN

WRONG_TOKEN = "wrong-token-Cm92Xa"


@pytest.fixture
def local(provider_server, allow_local_provider):
    return local_provider(provider_server.origin)


def run_command(*args) -> tuple[str, CommandError | None]:
    out = StringIO()
    try:
        call_command("test_connections", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def test_progress_bar_is_plain_text():
    assert progress_bar(50, 100) == "[" + "#" * 15 + "-" * 15 + "] 50/100"
    assert progress_bar(0, 3) == "[" + "-" * 30 + "] 0/3"
    assert progress_bar(3, 3) == "[" + "#" * 30 + "] 3/3"


@pytest.mark.django_db
def test_it_asks_which_connections_to_test():
    with pytest.raises(CommandError, match="--user USER_ID, --integration INTEGRATION_ID or --all"):
        call_command("test_connections")
    with pytest.raises(CommandError, match="No user with userId 'nobody'"):
        call_command("test_connections", "--user", "nobody")
    with pytest.raises(CommandError, match="No integration 'nothing'"):
        call_command("test_connections", "--integration", "nothing")


@pytest.mark.django_db
def test_a_users_connections_are_tested_here_with_a_progress_bar_and_a_summary(local, user, other_user):
    good = local_connection(local, user=user, connection_name="Alpha")
    bad = local_connection(local, user=user, connection_name="Beta", credentials={"token": WRONG_TOKEN})
    local_connection(local, user=user, connection_name="Gone", status=Connection.Status.INACTIVE)
    local_connection(local, user=other_user, connection_name="Someone else's")

    output, error = run_command("--user", user.user_id, "--concurrency", "4")

    lines = output.splitlines()
    assert lines[0] == "Testing 2 connection(s) here…"
    assert "[" + "-" * 30 + "] 0/2" in lines
    assert "[" + "#" * 30 + "] 2/2" in lines
    header = next(line for line in lines if line.startswith("Integration"))
    assert header.split() == ["Integration", "Connection", "Status", "Code", "ms", "Message"]
    alpha = next(line for line in lines if f"Alpha ({good.connection_id})" in line)
    beta = next(line for line in lines if f"Beta ({bad.connection_id})" in line)
    assert alpha.startswith("Local provider") and " success " in alpha and " 200 " in alpha
    assert "Connection successful" in alpha
    assert " error " in beta and " 401 " in beta and "Invalid credentials" in beta
    assert lines[-1] == "2 tested: 1 succeeded, 1 failed."
    assert str(error) == "1 of 2 connection test(s) did not succeed"
    assert WRONG_TOKEN not in output and BEARER_TOKEN not in output
    assert set(CheckRun.objects.values_list("trigger", "requested_by")) == {
        ("command", "command:test_connections")
    }
    assert not CheckRun.objects.filter(connection__user=other_user).exists()


@pytest.mark.django_db
def test_an_integrations_connections_are_tested_and_all_passing_exits_cleanly(local):
    for _ in range(3):
        local_connection(local)
    salesforce = ConnectionFactory()

    output, error = run_command("--integration", "local")

    assert error is None
    assert output.splitlines()[-1] == "3 tested: 3 succeeded, 0 failed."
    assert salesforce.connection_id not in output and not salesforce.test_runs.exists()


@pytest.mark.django_db
def test_nothing_to_test_says_so(user):
    output, error = run_command("--all")

    assert (output.strip(), error) == ("No active connections to test.", None)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_async_runs_the_tests_on_the_workers_and_waits_for_them(local, tmp_path):
    connections = [local_connection(local, connection_name=f"Conn {n}") for n in range(5)]
    queue = f"test-cmd-{uuid.uuid4().hex[:12]}"
    try:
        with RealWorker(tmp_path, queue, concurrency=5), broker(REDIS_URL, queue=queue):
            output, error = run_command("--all", "--async", "--timeout", "30")
    finally:
        drop_redis_queue(queue)

    assert error is None, output
    lines = output.splitlines()
    assert lines[0] == "Testing 5 connection(s) on the workers…"
    assert "[" + "#" * 30 + "] 5/5" in lines
    assert lines[-1] == "5 tested: 5 succeeded, 0 failed."
    assert all(f"({c.connection_id})" in output for c in connections)
    assert CheckRun.objects.filter(status="success", trigger="command").count() == 5


@pytest.mark.django_db
def test_one_connections_broken_provider_never_touches_the_others(local, user, provider_server):
    # A provider redirecting to a URL that cannot be parsed, among connections that work.
    document = local_provider_document(provider_server.origin)
    document["id"] = "redirecting"
    document["testRequest"] = {
        "method": "GET",
        "path": "/redirect",
        "query": {"to": "http://127.0.0.1:99999/"},
    }
    broken = local_connection(integration_from_document(document), user=user, connection_name="Broken")
    good = [local_connection(local, user=user, connection_name=f"Good {n}") for n in range(3)]

    output, error = run_command("--user", user.user_id)

    assert "4 tested: 3 succeeded, 1 failed." in output
    assert "Traceback" not in output
    assert str(error) == "1 of 4 connection test(s) did not succeed"
    assert not CheckRun.objects.filter(status__in=["queued", "running"]).exists()
    runs = {run.connection_id: run for run in CheckRun.objects.all()}
    assert runs[broken.pk].message.startswith(
        "The redirect from 127.0.0.1 (its Location header) is not a valid"
    )
    assert all(runs[c.pk].status == "success" for c in good)
