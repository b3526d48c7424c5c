import secrets

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models

USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"


def new_user_id() -> str:
    return f"user_{secrets.token_hex(6)}"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields):
        fields.setdefault("user_id", new_user_id())
        fields.setdefault("name", email.split("@")[0])
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)  # None gives an unusable password
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """An end user of the host product, or (with is_staff) an operator."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    user_id = models.CharField(
        "userId",
        max_length=64,
        unique=True,
        default=new_user_id,
        validators=[RegexValidator(USER_ID_PATTERN, "userId may use letters, digits, _ . @ - (64 at most)")],
        help_text="Public identifier the host product uses, e.g. user_123.",
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, unique=True, help_text="Stored lower-case.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    is_staff = models.BooleanField(
        "operator", default=False, help_text="Operators sign in to the admin and act for any user."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @property
    def is_active(self) -> bool:
        # An inactive user can neither sign in nor be used through the API.
        return self.status == self.Status.ACTIVE

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name


class ApiKey(models.Model):
    """A server-to-server key. Only a SHA-256 digest of the key is stored."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
