from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User
from core.errors import NotFound


def user_get(*, user_id: str) -> User:
    user = User.objects.filter(user_id=user_id).first()
    if user is None:
        raise NotFound("User not found")
    return user


def user_list(*, status: str | None = None) -> QuerySet[User]:
    users = User.objects.order_by("created_at", "id")
    if status:
        users = users.filter(status=status)
    return users
