import pytest
from django.db import connection, connections
from django.db.backends.postgresql import base as django_postgresql

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend's health check"),
]


@pytest.fixture
def other_connection():
    """A connection of its own (outside the test's transaction), as a web thread keeps one."""
    other = connections.create_connection("default")
    other.ensure_connection()
    yield other
    other.close()


def test_an_idle_connection_is_usable_without_a_round_trip(other_connection, monkeypatch):
    def round_trip(self):
        raise AssertionError("SELECT 1 sent to the server")

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", round_trip)
    assert other_connection.is_usable()


def test_a_connection_the_server_closed_is_replaced_before_the_next_request_uses_it(other_connection):
    assert other_connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    pid = other_connection.connection.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])  # waits until it has ended
        assert cursor.fetchone() == (True,)
    assert not other_connection.is_usable()

    other_connection.close_if_unusable_or_obsolete()  # what each request's start does
    with other_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (new_pid,) = cursor.fetchone()
    assert new_pid != pid


def test_a_connection_inside_a_transaction_is_checked_on_the_server(other_connection, monkeypatch):
    checked = []
    monkeypatch.setattr(
        django_postgresql.DatabaseWrapper, "is_usable", lambda self: checked.append(self) or True
    )
    other_connection.set_autocommit(False)
    try:
        other_connection.cursor().execute("SELECT 1")  # a transaction is open now
        assert other_connection.is_usable() and checked == [other_connection]
    finally:
        other_connection.rollback()
        other_connection.set_autocommit(True)
