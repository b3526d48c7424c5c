import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from accounts.models import ApiKey, User

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_the_key_alone_on_the_last_line_and_stores_a_digest():
    out = io.StringIO()

    call_command("create_api_key", "billing backend", stdout=out, stderr=io.StringIO())

    raw_key = out.getvalue().splitlines()[-1]
    assert raw_key.startswith("ck_") and " " not in raw_key
    stored = ApiKey.objects.get(name="billing backend")
    assert raw_key not in (stored.key_hash, stored.prefix)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert client.get("/api/users").status_code == 200


def test_create_api_key_needs_a_name():
    with pytest.raises(CommandError):
        call_command("create_api_key", "  ", stdout=io.StringIO(), stderr=io.StringIO())


def test_setup_demo_creates_an_end_user_an_operator_and_a_working_key():
    out = io.StringIO()

    call_command("setup_demo", stdout=io.StringIO())
    call_command("setup_demo", stdout=out)  # again: resets passwords, creates no duplicates

    text = out.getvalue()
    assert "/login/" in text
    end_user = User.objects.get(user_id="user_123")
    operator = User.objects.get(user_id="operator")
    assert not end_user.is_staff and operator.is_staff
    password = next(line.split("password: ")[1] for line in text.splitlines() if "End user" in line)
    assert User.objects.filter(user_id="user_123").count() == 1
    raw_key = next(line.split()[-1] for line in text.splitlines() if "API key:" in line)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert client.get("/api/users/user_123").status_code == 200
    assert end_user.check_password(password)  # printed so the person running bin/app can sign in
