"""The integration catalog held in each process's memory, for the paths that run on every request.

Connections name their integration; loading it with each connection would decode its whole
document per row. Instead a hot query reads the catalog's revision number as one more column
(``catalog_revision()``), and ``catalog_integration()`` answers from memory while that number
matches, loading the catalog again (one query) when any process changed it. Every catalog write
calls ``catalog_changed()`` in its transaction.

The instances handed out are shared between threads and requests: read them, never change them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import F, IntegerField
from django.db.models.expressions import RawSQL

from integrations.models import CatalogRevision, Integration

REVISION_ROW = 1


@dataclass(frozen=True)
class _Snapshot:
    revision: int
    integrations: dict[str, Integration]


_snapshot: _Snapshot | None = None


def catalog_revision() -> RawSQL:
    """The catalog's revision, to annotate onto a query that is made anyway. Written as SQL: a
    Subquery would be compiled again, as a query of its own, on every hot request."""
    return RawSQL(_REVISION_SQL, (REVISION_ROW,), output_field=IntegerField())


_REVISION_SQL = "COALESCE((SELECT {number} FROM {table} WHERE {pk} = %s), 0)".format(
    number=connection.ops.quote_name(CatalogRevision._meta.get_field("number").column),
    table=connection.ops.quote_name(CatalogRevision._meta.db_table),
    pk=connection.ops.quote_name(CatalogRevision._meta.pk.column),
)


def catalog_changed() -> None:
    """Bump the revision: every process loads the catalog again on its next hot query."""
    bump = CatalogRevision.objects.filter(pk=REVISION_ROW)
    if not bump.update(number=F("number") + 1):
        CatalogRevision.objects.get_or_create(pk=REVISION_ROW)
        bump.update(number=F("number") + 1)


def catalog_forget() -> None:
    """Drop this process's copy (tests: the database is rolled back under it)."""
    global _snapshot
    _snapshot = None


def _load() -> _Snapshot:
    global _snapshot
    # One statement, so the revision and the rows are of the same moment.
    rows = list(Integration.objects.annotate(revision=catalog_revision()))
    _snapshot = _Snapshot(
        revision=rows[0].revision if rows else -1, integrations={row.pk: row for row in rows}
    )
    return _snapshot


def catalog_integration(*, integration_id: str, revision: int) -> Integration | None:
    """The integration as of ``revision`` (read in the caller's query), from memory when current."""
    snapshot = _snapshot
    if snapshot is None or snapshot.revision != revision or integration_id not in snapshot.integrations:
        snapshot = _load()
    return snapshot.integrations.get(integration_id)
