"""Sign-in connections (OAuth 2.0 authorization code + PKCE): operators' OAuth apps
(``clients``), the provider's endpoints (``provider``), the sign-in flow (``flow``), connections
made from tokens (``connections``), the token lifecycle (``tokens``) and revocation
(``revocation``). Other code uses the services of those modules, e.g.
``connections.oauth.tokens.oauth_access_token_get``.
"""
