"""my-connections for large accounts: pages of at most 1,000 with nextCursor, exact stats on
every page, and a cost per request that does not grow with the account."""

import pytest
from django.db import connection as db

from connections.models import Connection
from connections.selectors import MAX_PAGE_SIZE
from tests.accounts.factories import UserFactory
from tests.connections.factories import ConnectionFactory, salesforce

pytestmark = pytest.mark.django_db
URL = "/api/user-integrations/my-connections"


def many_connections(owner, count: int, **fields) -> list[Connection]:
    integration = salesforce()
    return Connection.objects.bulk_create(
        (ConnectionFactory.build(user=owner, integration=integration, **fields) for _ in range(count)),
        batch_size=1000,
    )


def test_cursor_walks_every_connection_once_with_exact_totals_and_stats(key_client):
    owner = UserFactory()
    many_connections(owner, 5)
    many_connections(owner, 2, status="inactive")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"userId": owner.user_id, "limit": 3} | ({"cursor": cursor} if cursor else {})
        body = key_client.get(URL, params).json()
        pages += 1
        assert body["total"] == 7
        assert body["stats"] == {"active": 5, "inactive": 2, "total": 7, "recent": 7}
        seen += [item["connectionId"] for item in body["connections"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(
        Connection.objects.filter(user=owner)
        .order_by("created_at", "pk")
        .values_list("connection_id", flat=True)
    )


def test_filtered_pages_count_what_matches(key_client):
    owner = UserFactory()
    many_connections(owner, 4)
    many_connections(owner, 3, status="inactive")
    first = key_client.get(URL, {"userId": owner.user_id, "status": "inactive", "limit": 2}).json()
    rest = key_client.get(
        URL, {"userId": owner.user_id, "status": "inactive", "limit": 2, "cursor": first["nextCursor"]}
    ).json()

    assert [len(first["connections"]), len(rest["connections"])] == [2, 1]
    assert first["total"] == rest["total"] == 3
    assert {c["status"] for c in first["connections"] + rest["connections"]} == {"inactive"}
    assert rest["nextCursor"] is None


def test_without_limit_the_answer_is_the_seeds_up_to_a_thousand_then_next_cursor(key_client):
    small, large = UserFactory(), UserFactory()
    many_connections(small, 3)
    many_connections(large, MAX_PAGE_SIZE + 1)

    assert set(key_client.get(URL, {"userId": small.user_id}).json()) == {
        "success",
        "connections",
        "total",
        "stats",
    }
    body = key_client.get(URL, {"userId": large.user_id}).json()
    assert len(body["connections"]) == MAX_PAGE_SIZE
    assert body["total"] == body["stats"]["total"] == MAX_PAGE_SIZE + 1
    last = key_client.get(URL, {"userId": large.user_id, "cursor": body["nextCursor"]}).json()
    assert len(last["connections"]) == 1
    assert last["nextCursor"] is None


@pytest.mark.parametrize("cursor", ["nonsense", "bm90LWEtY3Vyc29y", "MjAyNi0wMS0wMXxhYmM"])
def test_a_cursor_this_api_did_not_give_is_refused(key_client, cursor):
    owner = UserFactory()
    response = key_client.get(URL, {"userId": owner.user_id, "cursor": cursor})

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "Validation error",
        "errors": ["cursor is not one this API gave out"],
    }


def test_an_empty_page_still_has_the_user_and_stats_and_an_unknown_user_is_404(key_client):
    owner = UserFactory()
    many_connections(owner, 2)
    body = key_client.get(URL, {"userId": owner.user_id, "integrationId": "hubspot"}).json()
    assert body["connections"] == [] and body["total"] == 0
    assert body["stats"]["total"] == 2

    missing = key_client.get(URL, {"userId": "nobody_here"})
    assert missing.status_code == 404
    assert missing.json() == {"success": False, "message": "User not found"}


def test_one_query_per_page_once_the_key_and_catalog_are_warm(key_client, django_assert_num_queries):
    owner = UserFactory()
    many_connections(owner, 30)
    key_client.get(URL, {"userId": owner.user_id})  # proves the key, loads the catalog: once per process

    with django_assert_num_queries(1):  # user, stats, the page and the catalog's revision together
        first = key_client.get(URL, {"userId": owner.user_id, "limit": 10}).json()
    with django_assert_num_queries(1):
        key_client.get(URL, {"userId": owner.user_id, "limit": 10, "cursor": first["nextCursor"]})
    with django_assert_num_queries(2):  # an empty page: the user and stats on their own
        key_client.get(URL, {"userId": owner.user_id, "integrationId": "hubspot"})


@pytest.mark.skipif(db.vendor != "postgresql", reason="10,000 connections: the PostgreSQL run checks it")
def test_ten_thousand_connections_cost_what_ten_do(key_client, django_assert_max_num_queries):
    few, many = UserFactory(), UserFactory()
    many_connections(few, 10)
    many_connections(many, 10_000)
    key_client.get(URL, {"userId": few.user_id})

    with django_assert_max_num_queries(1):
        small = key_client.get(URL, {"userId": few.user_id, "limit": 100}).json()
    with django_assert_max_num_queries(1):
        first = key_client.get(URL, {"userId": many.user_id, "limit": 100}).json()
    with django_assert_max_num_queries(1):
        later = key_client.get(
            URL, {"userId": many.user_id, "limit": 100, "cursor": first["nextCursor"]}
        ).json()

    assert len(small["connections"]) == 10 and small["nextCursor"] is None
    assert len(first["connections"]) == len(later["connections"]) == 100
    assert first["total"] == later["total"] == later["stats"]["total"] == 10_000
