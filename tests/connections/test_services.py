import threading

import pytest
from django.db import connection as db_connection
from django.db import connections as db_connections
from django.utils import timezone

from connections import test_run_services
from connections.models import AuditEvent, CheckRun, Connection
from connections.selectors import connection_base_url, connection_credentials
from connections.services import (
    ConnectionChanges,
    audit_record,
    connection_create,
    connection_create_idempotent,
    connection_delete,
    connection_delete_permanently,
    connection_reactivate,
    connection_update,
    connections_reencrypt_batch,
)
from core.errors import ApplicationError, ValidationFailed
from tests.connections.factories import SEED_CREDENTIALS, ConnectionFactory, acme, salesforce

pytestmark = pytest.mark.django_db

SEED_VARIABLES = {"instance_url": "https://mycompany.salesforce.com"}


def test_create_encrypts_and_audits_in_one_go(user):
    salesforce()
    connection = connection_create(
        actor=user,
        user=user,
        integration_id="salesforce",
        auth_method_id="oauth2",
        credentials=dict(SEED_CREDENTIALS),
        configured_variables=SEED_VARIABLES,
    )

    assert connection.connection_name == "Salesforce"
    assert connection.auth_method_label == "OAuth 2.0"
    assert connection.version == 1
    event = AuditEvent.objects.get(connection=connection)
    assert (event.action, event.actor) == ("create", f"user:{user.user_id}")
    assert event.fields == sorted(
        [
            "authMethodId",
            "configuredVariables.instance_url",
            "connectionName",
            "credentials.clientId",
            "credentials.clientSecret",
            "status",
        ]
    )


def test_failed_validation_writes_nothing(user):
    salesforce()
    with pytest.raises(ValidationFailed):
        connection_create(
            actor=user,
            user=user,
            integration_id="salesforce",
            auth_method_id="oauth2",
            credentials={"clientId": "x"},
            configured_variables=SEED_VARIABLES,
        )
    assert not Connection.objects.exists() and not AuditEvent.objects.exists()


def test_an_inactive_user_gets_no_new_connection(user):
    salesforce()
    user.status = "inactive"
    user.save()
    with pytest.raises(ValidationFailed) as caught:
        connection_create(
            actor="system",
            user=user,
            integration_id="salesforce",
            auth_method_id="oauth2",
            credentials=dict(SEED_CREDENTIALS),
            configured_variables=SEED_VARIABLES,
        )
    assert caught.value.errors == [f"userId '{user.user_id}' is inactive"]


def test_base_url_and_credentials_for_other_modules():
    connection = ConnectionFactory()

    assert (
        connection_base_url(connection=connection) == "https://mycompany.salesforce.com/services/data/v58.0"
    )
    assert connection_credentials(connection=connection) == SEED_CREDENTIALS


def test_update_without_changes_writes_nothing(user):
    connection = ConnectionFactory(user=user)

    connection_update(
        connection=connection,
        actor=user,
        changes=ConnectionChanges(connection_name=connection.connection_name),
    )

    connection.refresh_from_db()
    assert connection.version == 1
    assert not connection.audit_events.exists()


def test_update_drops_a_hidden_field_kept_from_before(user):
    connection = ConnectionFactory(
        user=user,
        integration=acme(),
        auth_method_id="basic",
        configured_variables={"subdomain": "crm"},
        credentials={"username": "ada", "password": "pw", "region": "eu", "euToken": "t"},
    )

    connection = connection_update(
        connection=connection, actor=user, changes=ConnectionChanges(credentials={"region": "us"})
    )

    assert connection_credentials(connection=connection) == {
        "username": "ada",
        "password": "pw",
        "region": "us",
    }


def test_delete_and_reactivate_are_audited_once(user):
    connection = ConnectionFactory(user=user)

    connection_delete(connection=connection, actor=user)
    connection_delete(connection=connection, actor=user)
    connection_reactivate(connection=connection, actor=user)

    connection.refresh_from_db()
    assert connection.status == "active"
    assert connection.version == 3
    assert list(connection.audit_events.values_list("action", flat=True)) == ["reactivate", "delete"]


def test_a_connection_of_an_inactive_integration_cannot_be_reactivated(user):
    connection = ConnectionFactory(user=user, status="inactive")
    salesforce(status="inactive")

    with pytest.raises(ApplicationError) as caught:
        connection_reactivate(connection=connection, actor=user)
    assert (
        caught.value.message == "Integration 'salesforce' is inactive: its connections cannot be reactivated"
    )


def test_audit_record_for_other_modules(user):
    connection = ConnectionFactory(user=user)

    event = audit_record(connection=connection, action="test", actor=user, fields=["lastTestStatus"])

    assert (event.action, event.actor, event.fields) == ("test", f"user:{user.user_id}", ["lastTestStatus"])


@pytest.mark.django_db(transaction=True)
def test_concurrent_updates_lose_nothing(user):
    """Two PUTs at once, one renaming, one changing the secret: both land."""
    if db_connection.vendor != "postgresql":
        pytest.skip("needs row locks from concurrent connections: SQLite serialises whole-database writes")
    connection = ConnectionFactory(user=user)
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def run(**changes):
        try:
            barrier.wait(timeout=10)
            connection_update(
                connection=Connection.objects.get(pk=connection.pk),
                actor=user,
                changes=ConnectionChanges(**changes),
            )
        except BaseException as exc:  # reported below, from the main thread
            failures.append(exc)
        finally:
            db_connections.close_all()

    for _ in range(5):
        threads = [
            threading.Thread(target=run, kwargs={"connection_name": f"Renamed {_}"}),
            threading.Thread(target=run, kwargs={"credentials": {"clientSecret": f"secret-{_}"}}),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert not failures
        connection.refresh_from_db()
        assert connection.connection_name == f"Renamed {_}"
        assert connection_credentials(connection=connection)["clientSecret"] == f"secret-{_}"
    assert connection.version == 11
    assert connection.audit_events.count() == 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_idempotency_key_create_one_connection(user):
    if db_connection.vendor != "postgresql":
        pytest.skip("needs concurrent transactions: SQLite serialises whole-database writes")
    salesforce()
    barrier = threading.Barrier(4)
    results: list = []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(
                connection_create_idempotent(
                    actor=user,
                    idempotency_key="same",
                    request_fingerprint="f" * 64,
                    create=lambda: connection_create(
                        actor=user,
                        user=user,
                        integration_id="salesforce",
                        auth_method_id="oauth2",
                        credentials=dict(SEED_CREDENTIALS),
                        configured_variables=SEED_VARIABLES,
                    ),
                ).connection_id
            )
        except BaseException as exc:  # reported below, from the main thread
            results.append(exc)
        finally:
            db_connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(results)) == 1, results
    assert Connection.objects.count() == 1


def test_permanent_delete_cannot_be_undone_and_leaves_nothing_to_test_or_rotate(user, admin_client):
    connection = ConnectionFactory(user=user)
    queued = CheckRun.objects.create(connection=connection, requested_by="schedule", trigger="schedule")
    connection_delete_permanently(connection=connection, actor=user)

    with pytest.raises(ApplicationError, match="Connection not found"):
        connection_reactivate(connection=connection, actor=user)
    with pytest.raises(ApplicationError, match="Connection not found"):
        connection_update(connection=connection, actor=user, changes=ConnectionChanges(status="active"))
    with pytest.raises(ApplicationError, match="inactive"):
        test_run_services.test_run_create(connection=Connection.objects.get(pk=connection.pk), actor=user)
    run = test_run_services.test_run_execute_queued(run_id=queued.run_id)  # a test queued before the delete
    assert (run.status, run.message) == ("error", "The connection was deactivated before the test ran")
    connection.refresh_from_db()
    assert connection.last_test_status is None  # the tombstone gets no result
    assert connections_reencrypt_batch(after_pk=0, batch_size=10).last_pk is None
    page = admin_client.get(f"/admin/connections/connection/{connection.pk}/change/")
    assert page.status_code == 200 and b'name="connection_name"' not in page.content


def test_a_change_the_test_depends_on_clears_the_last_result_a_rename_does_not(user):
    connection = ConnectionFactory(
        user=user,
        last_test_status="success",
        last_test_message="Connection successful",
        last_test_date=timezone.now(),
    )
    connection = connection_update(
        connection=connection, actor=user, changes=ConnectionChanges(connection_name="Renamed")
    )
    assert connection.last_test_status == "success"

    connection = connection_update(
        connection=connection,
        actor=user,
        changes=ConnectionChanges(configured_variables={"instance_url": "https://other.salesforce.com"}),
    )
    connection.refresh_from_db()
    assert (connection.last_test_status, connection.last_test_message, connection.last_test_date) == (
        None,
        None,
        None,
    )
