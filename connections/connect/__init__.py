"""Connect sessions: a host product sends one of its users through the wizard with a one-time link
(``POST /api/connect-sessions``), exchanged by one browser for a short session that reaches only
that user's wizard and My Connections, then returns to the host product's ``returnUrl``."""
