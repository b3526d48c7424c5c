from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import User
from core.errors import Conflict

# Duplicates are a 409, as the API's schema says.
DUPLICATE_MESSAGE = "User already exists"


def _uniqueness_errors(*, user_id: str | None, email: str | None, exclude_pk: int | None) -> list[str]:
    others = User.objects.exclude(pk=exclude_pk) if exclude_pk else User.objects.all()
    errors = []
    if user_id and others.filter(user_id=user_id).exists():
        errors.append("userId already exists")
    if email and others.filter(email__iexact=email).exists():
        errors.append("email is already used by another user")
    return errors


@transaction.atomic
def user_create(
    *,
    user_id: str,
    name: str,
    email: str,
    status: str = User.Status.ACTIVE,
    password: str | None = None,
    is_staff: bool = False,
) -> User:
    email = email.strip().lower()
    errors = _uniqueness_errors(user_id=user_id, email=email, exclude_pk=None)
    if errors:
        raise Conflict(DUPLICATE_MESSAGE, errors=errors)
    user = User(user_id=user_id, name=name.strip(), email=email, status=status, is_staff=is_staff)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent create won the race
        raise Conflict(DUPLICATE_MESSAGE, errors=["userId or email already exists"]) from exc
    return user


@transaction.atomic
def user_update(
    *, user: User, name: str | None = None, email: str | None = None, status: str | None = None
) -> User:
    if email is not None:
        email = email.strip().lower()
        errors = _uniqueness_errors(user_id=None, email=email, exclude_pk=user.pk)
        if errors:
            raise Conflict(DUPLICATE_MESSAGE, errors=errors)
        user.email = email
    if name is not None:
        user.name = name.strip()
    if status is not None:
        user.status = status
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise Conflict(DUPLICATE_MESSAGE, errors=["email is already used by another user"]) from exc
    return user
