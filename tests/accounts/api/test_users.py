import pytest

from accounts.models import User
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_get_user_as_in_the_contract(key_client):
    UserFactory(user_id="user_123", name="John Doe", email="john.doe@example.com")

    response = key_client.get("/api/users/user_123")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert set(body["user"]) == {"userId", "name", "email", "status", "createdAt", "updatedAt"}
    assert body["user"]["userId"] == "user_123"
    assert body["user"]["name"] == "John Doe"
    assert body["user"]["status"] == "active"
    assert body["user"]["createdAt"].endswith("Z") and len(body["user"]["createdAt"]) == 24


def test_unknown_user_is_404_in_envelope(key_client):
    response = key_client.get("/api/users/user_nobody")

    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "User not found"}


def test_list_users_filters_by_status(key_client):
    UserFactory(user_id="user_123", status=User.Status.ACTIVE)
    UserFactory(user_id="user_456", status=User.Status.ACTIVE)
    UserFactory(user_id="user_789", status=User.Status.INACTIVE)

    body = key_client.get("/api/users?status=active").json()

    assert body["success"] is True
    assert [u["userId"] for u in body["users"]] == ["user_123", "user_456"]
    assert body["total"] == 2
    assert set(body["users"][0]) == {"userId", "name", "email", "status", "createdAt"}


def test_list_users_rejects_unknown_status(key_client):
    response = key_client.get("/api/users?status=deleted")

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "Validation error",
        "errors": ["Invalid status value. Must be 'active' or 'inactive'"],
    }


def test_create_user(key_client):
    response = key_client.post(
        "/api/users", {"userId": "user_new", "name": "Ada", "email": "Ada@Example.com"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    assert body["user"]["userId"] == "user_new"
    assert body["user"]["email"] == "ada@example.com"
    assert User.objects.filter(user_id="user_new").exists()


def test_create_user_requires_fields_with_readable_messages(key_client):
    response = key_client.post("/api/users", {}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == ["userId is required", "name is required", "email is required"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"userId": "bad id!", "name": "B", "email": "b@example.com"}, None),
        ({"userId": "user_x", "name": "B", "email": "not-an-email"}, "email must be a valid email address"),
    ],
)
def test_create_user_refuses_duplicates_and_invalid_values(key_client, payload, message):
    UserFactory(user_id="user_dup", email="dup@example.com")
    count = User.objects.count()

    response = key_client.post("/api/users", payload, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Validation error"
    if message:
        assert message in body["errors"]
    assert User.objects.count() == count


def test_patch_user(key_client):
    UserFactory(user_id="user_123", name="John Doe")

    response = key_client.patch(
        "/api/users/user_123", {"name": "John Q. Doe", "status": "inactive"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["user"]["name"] == "John Q. Doe"
    assert User.objects.get(user_id="user_123").status == "inactive"


def test_end_user_sees_only_themselves(user_client, user, other_user):
    assert user_client.get(f"/api/users/{user.user_id}").status_code == 200

    response = user_client.get(f"/api/users/{other_user.user_id}")
    assert response.status_code == 404
    assert response.json() == {"success": False, "message": "User not found"}
    assert other_user.email not in response.content.decode()

    listed = user_client.get("/api/users").json()
    assert [u["userId"] for u in listed["users"]] == [user.user_id]


def test_end_user_cannot_change_another_user_or_create_users(user_client, other_user):
    response = user_client.patch(f"/api/users/{other_user.user_id}", {"name": "Hacked"}, format="json")
    assert response.status_code == 404

    response = user_client.post(
        "/api/users", {"userId": "u9", "name": "x", "email": "x@example.com"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["success"] is False


def test_end_user_can_rename_but_not_deactivate_themselves(user_client, user):
    assert (
        user_client.patch(f"/api/users/{user.user_id}", {"name": "New Name"}, format="json").status_code
        == 200
    )
    assert (
        user_client.patch(f"/api/users/{user.user_id}", {"status": "inactive"}, format="json").status_code
        == 403
    )


def test_operator_session_acts_for_anyone(operator_client, other_user):
    assert operator_client.get(f"/api/users/{other_user.user_id}").status_code == 200


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"userId": "user_dup", "name": "B", "email": "b@example.com"}, "userId already exists"),
        (
            {"userId": "user_other", "name": "B", "email": "DUP@example.com"},
            "email is already used by another user",
        ),
    ],
)
def test_a_duplicate_user_is_a_409_as_the_schema_says(key_client, payload, message):
    UserFactory(user_id="user_dup", email="dup@example.com")

    response = key_client.post("/api/users", payload, format="json")

    assert response.status_code == 409
    assert response.json() == {"success": False, "message": "User already exists", "errors": [message]}


def test_an_end_user_taking_another_accounts_email_learns_nothing_about_it(user_client, user, key_client):
    other = UserFactory(email="taken@example.com")

    as_end_user = user_client.patch(
        f"/api/users/{user.user_id}", {"email": "TAKEN@example.com"}, format="json"
    )
    as_api_key = key_client.patch(f"/api/users/{user.user_id}", {"email": other.email}, format="json")

    assert as_end_user.status_code == 400
    assert as_end_user.json() == {
        "success": False,
        "message": "Validation error",
        "errors": ["email cannot be used for this account"],
    }
    assert "already" not in as_end_user.content.decode()
    assert as_api_key.status_code == 409, "an API key may see it"
    assert as_api_key.json()["errors"] == ["email is already used by another user"]


@pytest.mark.parametrize("body", [{"name": 0}, {"name": ["Ada"]}, {"name": {"first": "Ada"}}, {"name": True}])
def test_a_name_that_is_not_a_string_is_refused_not_coerced(key_client, user, body):
    response = key_client.patch(f"/api/users/{user.user_id}", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == ["name: Must be a string."]
