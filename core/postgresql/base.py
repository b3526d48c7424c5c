"""Django's PostgreSQL backend (``ENGINE = "core.postgresql"``, config/settings.py) with a health
check that costs no round trip.

With ``CONN_HEALTH_CHECKS`` Django calls ``is_usable()`` before the first query of each request on
a kept connection, and PostgreSQL's runs ``SELECT 1`` on the server: for the connection detail
about a tenth of the request's CPU. A connection the server has closed (a restart,
``pg_terminate_backend``, ``idle_session_timeout``) has something to read: the server's goodbye,
the end of the stream. Idle between requests nothing else arrives unasked but the rare notice, so
an idle connection with nothing to read is usable; anything else still gets ``SELECT 1``. A
connection psycopg already found broken is closed, and Django opens a new one for the request.
"""

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if connection.info.transaction_status == TransactionStatus.IDLE:
            waiting = select.poll()
            waiting.register(connection.fileno(), select.POLLIN)
            if not waiting.poll(0):
                return True
        return super().is_usable()
