import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from connections.models import Connection, ProxyCall
from core.prepared import PreparedInsert, PreparedQuery
from tests.connections.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def _by_id(connection_id):
    return Connection.objects.filter(connection_id=connection_id).select_related("user").order_by()[:1]


def test_instances_match_the_orm_with_each_call_s_values(user):
    first, second = ConnectionFactory(user=user), ConnectionFactory(user=user)
    query = PreparedQuery(_by_id, "connection_id")

    for expected in (first, second, first):
        with CaptureQueriesContext(connection) as captured:
            (found,) = query.instances(connection_id=expected.connection_id)
        assert len(captured) == 1  # the user came with it
        orm = _by_id(expected.connection_id).get()
        assert {f.attname: getattr(found, f.attname) for f in Connection._meta.concrete_fields} == {
            f.attname: getattr(orm, f.attname) for f in Connection._meta.concrete_fields
        }
        assert found.user == user and found.user.user_id == user.user_id
        assert found._state.adding is False and found._state.db == "default"
    assert query.instances(connection_id="conn_none") == []


def test_rows_are_converted_like_values_list(user):
    made = ConnectionFactory(user=user, configured_variables={"a": [1, 2]})
    query = PreparedQuery(
        lambda user_id: Connection.objects.filter(user__user_id=user_id).values_list(
            "connection_id", "configured_variables", "created_at", "needs_reconnect"
        ),
        "user_id",
    )
    assert query.rows(user_id=user.user_id) == [[made.connection_id, {"a": [1, 2]}, made.created_at, False]]


def test_every_placeholder_must_reach_the_sql_once_and_every_call_give_each():
    unused = PreparedQuery(lambda user_id: User.objects.all(), "user_id")
    with pytest.raises(ValueError, match="placeholder 'user_id' is not in the compiled query"):
        unused.rows(user_id="x")
    query = PreparedQuery(lambda user_id: User.objects.filter(user_id=user_id), "user_id")
    with pytest.raises(TypeError, match="expected values for"):
        query.rows()


@pytest.mark.parametrize(
    "variables",
    [{"a": [1, 2], "ü": "ß", "n": None, "f": 1.5}, {"big": 2**70, "small": 2**63 - 1}, {}],
    ids=["plain", "beyond-64-bits", "empty"],
)
def test_json_columns_read_as_the_orm_reads_them(user, variables):
    made = ConnectionFactory(user=user, configured_variables=variables)
    query = PreparedQuery(
        lambda user_id: Connection.objects.filter(user__user_id=user_id).values_list("configured_variables"),
        "user_id",
    )
    [[prepared]] = query.rows(user_id=user.user_id)
    [orm] = Connection.objects.filter(pk=made.pk).values_list("configured_variables", flat=True)
    assert repr(prepared) == repr(orm) and prepared.keys() == variables.keys()


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements and psycopg's loaders are PostgreSQL's"
)


def _prepared_statements() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {statement for (statement,) in cursor.fetchall()}


@postgresql_only
def test_the_statement_is_prepared_once_on_the_server_and_still_counted(user):
    made = ConnectionFactory(user=user)
    query = PreparedQuery(_by_id, "connection_id")
    before = _prepared_statements()
    for _ in range(3):
        with CaptureQueriesContext(connection) as captured:
            (found,) = query.instances(connection_id=made.connection_id)
        assert found.pk == made.pk
        assert len(captured) == 1
    added = _prepared_statements() - before
    assert len(added) == 1 and '"connections_connection"."connection_id" = $1' in added.pop()


@postgresql_only
@pytest.mark.parametrize(
    "session_zone", ["UTC", "Asia/Kolkata"], ids=["utc-fast-path", "other-zone-django-loader"]
)
def test_timestamps_read_as_the_orm_reads_them(user, session_zone):
    moments = ["2026-11-27 20:12:00+00", "2026-11-27 20:12:00.1+00", "2026-11-27 20:12:00.123456+00"]
    for moment in moments:
        ConnectionFactory(user=user, last_test_date=moment)
    query = PreparedQuery(
        lambda user_id: (
            Connection.objects.filter(user__user_id=user_id)
            .order_by("pk")
            .values_list("last_test_date", "created_at")
        ),
        "user_id",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('TimeZone', %s, false)", [session_zone])
    try:
        prepared = query.rows(user_id=user.user_id)
        orm = Connection.objects.filter(user=user).order_by("pk").values_list("last_test_date", "created_at")
        assert [tuple(row) for row in prepared] == list(orm)
        assert [(a.tzinfo, b.tzinfo) for a, b in prepared] == [(a.tzinfo, b.tzinfo) for a, b in orm]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('TimeZone', 'UTC', false)")


def test_a_prepared_insert_writes_the_row_save_would(user):
    made = ConnectionFactory(user=user)
    fields = [f.name for f in ProxyCall._meta.concrete_fields if not f.primary_key]
    insert = PreparedInsert(ProxyCall, *fields)

    def call(**values):
        return ProxyCall(connection=made, method="GET", path="/a?b=***", actor="api-key:x", **values)

    call(status_code=200, duration_ms=12, attempts=2).save()
    with CaptureQueriesContext(connection) as captured:
        insert.insert(call(status_code=200, duration_ms=12, attempts=2))
        insert.insert(call(error="Timed out after 5 s", feature_mapping_id="fm_1"))
    assert len(captured) == 2
    saved, inserted, failed = ProxyCall.objects.order_by("id")

    def columns(row):
        return {f.attname: getattr(row, f.attname) for f in ProxyCall._meta.concrete_fields if f.name != "id"}

    assert columns(inserted) == columns(saved) | {"created_at": inserted.created_at}
    assert inserted.created_at >= saved.created_at
    assert (failed.status_code, failed.error, failed.feature_mapping_id) == (
        None,
        "Timed out after 5 s",
        "fm_1",
    )
