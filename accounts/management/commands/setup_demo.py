import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.api_keys import api_key_create
from accounts.models import User

DEMO_USERS = [
    {"user_id": "user_123", "name": "John Doe", "email": "john.doe@example.com", "is_staff": False},
    {"user_id": "operator", "name": "Olivia Operator", "email": "operator@example.com", "is_staff": True},
]


class Command(BaseCommand):
    help = "Create (or reset) a demo end user and an operator with fresh passwords, and a demo API key."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    @transaction.atomic
    def handle(self, *args, base_url: str, **options):
        lines = []
        for spec in DEMO_USERS:
            password = secrets.token_urlsafe(9)
            user, _ = User.objects.update_or_create(
                user_id=spec["user_id"],
                defaults={
                    "name": spec["name"],
                    "email": spec["email"],
                    "is_staff": spec["is_staff"],
                    "is_superuser": spec["is_staff"],
                    "status": User.Status.ACTIVE,
                },
            )
            user.set_password(password)
            user.save()
            role = "Operator (admin)" if spec["is_staff"] else "End user"
            lines.append(f"  {role:<17} {spec['email']:<24} password: {password}")
        _, raw_key = api_key_create(name="demo")
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Connections is ready at {base_url}/",
                    f"  Sign in:           {base_url}/login/",
                    f"  Admin:             {base_url}/admin/",
                    f"  API docs:          {base_url}/api/docs/",
                    *lines,
                    f"  API key:           {raw_key}",
                    f"  Try it:            curl -H 'Authorization: Bearer {raw_key}' {base_url}/api/integrations",
                    "",
                ]
            )
        )
