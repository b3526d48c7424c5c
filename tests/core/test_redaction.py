"""The one scrub function: a secret is masked in every form a provider may echo it back in."""

import base64
import json
import re
from urllib.parse import quote, quote_plus

import pytest

from core.redaction import MASK, scrub, secret_forms

SECRET = 'pa$s/w"ord+7Hq2xV é'
USERNAME = "bob"

ENCODINGS = {
    "plain": lambda s: s,
    "percent": lambda s: quote(s, safe=""),
    "percent lower-case hex": lambda s: re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), quote(s, safe="")),
    "form-encoded": quote_plus,
    "json ascii": lambda s: json.dumps(s)[1:-1],
    "json utf-8": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    "json escaped slash": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    "base64": lambda s: base64.b64encode(s.encode()).decode(),
    "base64 no padding": lambda s: base64.b64encode(s.encode()).decode().rstrip("="),
    "base64 url-safe": lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
    "base64 url-safe no padding": lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
}


def leaks(text: str, secret: str = SECRET) -> list[str]:
    """Which encodings of ``secret`` (or of its base64 core) can still be read in ``text``."""
    return [name for name, encode in ENCODINGS.items() if encode(secret) in text]


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_every_encoding_of_a_secret_is_masked(encoding):
    text = f"provider said: {ENCODINGS[encoding](SECRET)} (try again)"

    scrubbed = scrub(text, [SECRET])

    assert MASK in scrubbed
    assert scrubbed.startswith("provider said: ") and scrubbed.endswith(" (try again)")
    assert not leaks(scrubbed)


@pytest.mark.parametrize("prefix", ["", "x", "xy", "xyz", "Bearer ", "token="])
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_a_secret_inside_a_longer_base64_text_is_masked_at_any_offset(prefix, encode):
    # "Basic base64(user:password)", a JWT-like blob: the secret does not start a base64 group.
    blob = encode(prefix.encode() + SECRET.encode() + b";trailing").decode()

    scrubbed = scrub(f"echo {blob}", [SECRET])

    assert MASK in scrubbed
    # Not even the middle third of the secret can be decoded from what is left.
    middle = SECRET.encode()[6:14]
    remains = scrubbed.split()[1].replace(MASK, "")
    for start in range(4):
        try:
            decoded = base64.b64decode(remains[start:] + "===", altchars=b"-_" if "-" in blob else None)
        except ValueError:
            continue
        assert middle not in decoded


def test_basic_authorization_of_user_and_password_is_masked_whole():
    header = "Basic " + base64.b64encode(f"{USERNAME}:{SECRET}".encode()).decode()

    assert scrub(f"bad credentials {header}", [USERNAME, SECRET]) == f"bad credentials Basic {MASK}"


def test_short_values_and_ordinary_text_are_left_alone():
    assert scrub("the key abc was wrong", ["abc"]) == "the key abc was wrong"
    assert scrub("nothing secret here", [SECRET, None, ""]) == "nothing secret here"


def test_the_longest_secret_wins_when_one_contains_another():
    assert scrub("token abcd-efgh-ijkl", ["abcd", "abcd-efgh-ijkl"]) == f"token {MASK}"


def test_secret_forms_lists_each_encoding_for_log_canaries():
    forms = secret_forms(SECRET)

    for name, encode in ENCODINGS.items():
        assert encode(SECRET) in forms or any(form in encode(SECRET) for form in forms), name
    assert secret_forms("abc") == set()
