"""The provider's HTML: sign-in, consent and error pages. Self-contained (inline style, no
scripts, nothing from other hosts), since the browser fixture fails a test on any foreign request.
"""

from html import escape

_STYLE = """
body { font-family: system-ui, sans-serif; background: #f3f4f6; margin: 0; }
main { max-width: 26rem; margin: 4rem auto; background: #fff; padding: 2rem; border-radius: .5rem;
       box-shadow: 0 1px 3px rgba(0,0,0,.15); }
h1 { font-size: 1.25rem; margin-top: 0; }
label { display: block; margin: .75rem 0 .25rem; }
input[type=text], input[type=password] { width: 100%; padding: .5rem; box-sizing: border-box; }
button { margin-top: 1rem; padding: .5rem 1.25rem; border: 0; border-radius: .25rem; cursor: pointer; }
.primary { background: #1d4ed8; color: #fff; }
.secondary { background: #e5e7eb; }
.error { color: #b91c1c; }
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · Example Identity Provider</title><style>{_STYLE}</style></head>"
        f"<body><main><p>Example Identity Provider</p>{body}</main></body></html>"
    )


def login_page(*, next_url: str, error: str = "") -> str:
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return _page(
        "Sign in",
        f"<h1>Sign in</h1>{message}"
        '<form method="post" action="/login">'
        f'<input type="hidden" name="next" value="{escape(next_url)}">'
        '<label for="username">Username</label>'
        '<input type="text" id="username" name="username" autocomplete="username" autofocus>'
        '<label for="password">Password</label>'
        '<input type="password" id="password" name="password" autocomplete="current-password">'
        '<button type="submit" class="primary">Sign in</button></form>',
    )


def consent_page(*, action: str, client_id: str, scopes: list[str], csrf: str, user: str) -> str:
    items = "".join(f"<li>{escape(scope)}</li>" for scope in scopes) or "<li>Basic access</li>"
    return _page(
        "Authorize",
        f"<h1>Authorize {escape(client_id)}</h1>"
        f"<p>Signed in as <strong>{escape(user)}</strong>. "
        f"<strong>{escape(client_id)}</strong> asks for access to:</p>"
        f'<ul id="scopes">{items}</ul>'
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<button type="submit" name="decision" value="approve" id="approve" class="primary">Approve</button> '
        '<button type="submit" name="decision" value="deny" id="deny" class="secondary">Deny</button>'
        "</form>",
    )


def error_page(*, error: str, description: str) -> str:
    return _page(
        "Error",
        f'<h1>Authorization failed</h1><p class="error" id="error">{escape(error)}</p>'
        f"<p>{escape(description)}</p>",
    )
