from django.core.management.base import BaseCommand, CommandError

from accounts.api_keys import api_key_create


class Command(BaseCommand):
    help = "Create an API key. The key is printed once, alone on the last line; only its digest is stored."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the key is for, e.g. 'billing backend'")

    def handle(self, *args, name: str, **options):
        if not name.strip():
            raise CommandError("The key needs a name")
        api_key, raw_key = api_key_create(name=name)
        self.stderr.write(
            f"Created API key '{api_key.name}' (prefix {api_key.prefix}). Store it now: it is not shown again."
        )
        self.stdout.write(raw_key)
