from django.core.management.base import BaseCommand, CommandError

from connections import encryption
from connections.models import Connection
from connections.services import connections_reencrypt_batch, stored_secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored credential with the newest key of ENCRYPTION_KEYS (the first). "
        "Works in batches, each one transaction and one UPDATE; safe to interrupt and run again. "
        "Put the new key first in ENCRYPTION_KEYS, keep the old ones until this reports 0 failed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="Connections per transaction (default 1000)."
        )

    def handle(self, *args, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        newest = encryption.current_key_id()
        prefix = encryption.current_token_prefix()
        already_current = Connection.objects.filter(credentials_encrypted__startswith=prefix).count()
        to_rotate = (
            Connection.objects.exclude(credentials_encrypted__startswith=prefix)
            .exclude(credentials_encrypted="")  # erased: nothing to rotate
            .count()
        )
        rotated, failed, after_pk = 0, [], 0
        while True:
            batch = connections_reencrypt_batch(after_pk=after_pk, batch_size=batch_size)
            if batch.last_pk is None:
                break
            rotated += batch.rotated
            failed += batch.failed
            after_pk = batch.last_pk
            done = rotated + len(failed)
            self.stdout.write(
                f"… {rotated} of {to_rotate} rotated ({done * 100 // max(to_rotate, 1)}%), {len(failed)} failed"
            )
        others = stored_secrets_reencrypt()
        self.stdout.write(
            f"Newest key '{newest}': {rotated} rotated, {already_current} already current, {len(failed)} failed."
        )
        self.stdout.write(
            "Other secrets (webhook endpoints, OAuth apps, sign-ins in progress): "
            f"{others.rotated} rotated, {len(others.failed)} failed."
        )
        if failed or others.failed:
            # Ids only: enough to find the rows, nothing about their contents.
            self.stderr.write(
                "Could not decrypt (is their key missing from ENCRYPTION_KEYS?): "
                + ", ".join(failed + others.failed)
            )
            counts = [f"{len(failed)} connection(s)"] if failed else []
            counts += [f"{len(others.failed)} other secret(s)"] if others.failed else []
            raise CommandError(f"{' and '.join(counts)} could not be re-encrypted")
